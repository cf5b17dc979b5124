module github.com/dynomite-go/dynomite

go 1.26

require (
	github.com/spf13/pflag v1.0.10
	github.com/stretchr/testify v1.10.0
	go.uber.org/goleak v1.3.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/kr/text v0.2.0 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
)
