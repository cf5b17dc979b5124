package seedprovider_test

import (
	"context"
	"fmt"

	"github.com/dynomite-go/dynomite/seedprovider"
	"github.com/dynomite-go/dynomite/seedprovider/static"
)

func ExampleParseList() {
	seeds, err := seedprovider.ParseList("127.0.0.2:8101:rack2:dc1:200|bogus|127.0.0.1:8101:rack1:dc1:100\n")
	for _, s := range seeds {
		fmt.Println(s)
	}
	fmt.Println("partial:", seedprovider.Partial(err))
	for _, e := range seedprovider.Entries(err) {
		fmt.Println(e.Entry)
	}
	// Output:
	// 127.0.0.2:8101:rack2:dc1:200
	// 127.0.0.1:8101:rack1:dc1:100
	// partial: true
	// bogus
}

func ExampleRefresher() {
	seeds, _ := seedprovider.ParseList("127.0.0.2:8101:rack2:dc1:200|127.0.0.1:8101:rack1:dc1:100")
	r, err := seedprovider.NewRefresher(static.New(seeds), seedprovider.RefresherConfig{})
	if err != nil {
		panic(err)
	}
	// Run(ctx) polls every interval; one Refresh shows what each poll does.
	snap, changed, err := r.Refresh(context.Background())
	fmt.Println(changed, err, len(snap.Seeds), snap.Seeds[0])
	_, changed, _ = r.Refresh(context.Background())
	fmt.Println(changed)
	// Output:
	// true <nil> 2 127.0.0.1:8101:rack1:dc1:100
	// false
}
