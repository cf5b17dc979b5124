// Command fakeec2 is a fake EC2 endpoint for the discovery suite: it
// answers DescribeInstances (the Query API's XML, as the real endpoint) from
// a list of instances the test sets over HTTP, so that nodes using
// ec2_provider find their peers without AWS. It runs in a container on the
// suite's network; the addresses it hands out are the suite's containers'.
//
//	POST /                      Action=DescribeInstances, Filter.N.Name/Value.M
//	PUT  /_fake/instances       the instances, JSON: [{"id","private_ip","az","state","tags":{}}]
//	GET  /_fake/instances       the same
//	GET  /_fake/calls           how many DescribeInstances calls were answered
//
// Filters: tag:KEY, tag-key, instance-state-name, availability-zone,
// instance-id; anything else is refused as the real API does
// (InvalidParameterValue). No pagination: every match in one page.
package main

import (
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"log"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Instance is what the test sets.
type Instance struct {
	ID        string            `json:"id"`
	PrivateIP string            `json:"private_ip"`
	PublicIP  string            `json:"public_ip,omitempty"`
	AZ        string            `json:"az"`
	State     string            `json:"state,omitempty"` // default running
	Tags      map[string]string `json:"tags"`
}

type server struct {
	mu        sync.Mutex
	instances []Instance
	calls     atomic.Int64
}

func main() {
	addr := flag.String("listen", ":8080", "address to listen on")
	flag.Parse()
	s := &server{}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /_fake/instances", s.put)
	mux.HandleFunc("GET /_fake/instances", s.get)
	mux.HandleFunc("GET /_fake/calls", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, s.calls.Load())
	})
	mux.HandleFunc("POST /", s.query)
	log.Printf("fakeec2 listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, mux))
}

func (s *server) put(w http.ResponseWriter, r *http.Request) {
	var in []Instance
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.instances = in
	s.mu.Unlock()
	ids := make([]string, len(in))
	for i, x := range in {
		ids[i] = x.ID
	}
	log.Printf("instances set: %s", strings.Join(ids, " "))
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) get(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = json.NewEncoder(w).Encode(s.instances)
}

type filter struct {
	name   string
	values []string
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>fake</RequestID></Response>`,
		code, xmlEscape(msg))
}

func (s *server) query(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		fail(w, http.StatusBadRequest, "MalformedQueryString", err.Error())
		return
	}
	if a := r.Form.Get("Action"); a != "DescribeInstances" {
		fail(w, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("the action %q is not valid for this web service (fakeec2 answers DescribeInstances only)", a))
		return
	}
	if !strings.Contains(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256") {
		fail(w, http.StatusUnauthorized, "AuthFailure", "request not signed with SigV4")
		return
	}
	// Filter.1.Name=tag:dynomite:cluster&Filter.1.Value.1=itest ...
	var filters []filter
	for i := 1; ; i++ {
		name := r.Form.Get("Filter." + strconv.Itoa(i) + ".Name")
		if name == "" {
			break
		}
		f := filter{name: name}
		for j := 1; ; j++ {
			v, ok := r.Form["Filter."+strconv.Itoa(i)+".Value."+strconv.Itoa(j)]
			if !ok {
				break
			}
			f.values = append(f.values, v...)
		}
		filters = append(filters, f)
	}
	s.calls.Add(1)
	s.mu.Lock()
	all := append([]Instance(nil), s.instances...)
	s.mu.Unlock()
	var out []Instance
	for _, in := range all {
		ok, err := matches(in, filters)
		if err != nil {
			fail(w, http.StatusBadRequest, "InvalidParameterValue", err.Error())
			return
		}
		if ok {
			out = append(out, in)
		}
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	_, _ = w.Write([]byte(describeXML(out)))
}

func state(in Instance) string {
	if in.State == "" {
		return "running"
	}
	return in.State
}

func matches(in Instance, fs []filter) (bool, error) {
	for _, f := range fs {
		var have []string
		switch {
		case strings.HasPrefix(f.name, "tag:"):
			if v, ok := in.Tags[strings.TrimPrefix(f.name, "tag:")]; ok {
				have = []string{v}
			}
		case f.name == "tag-key":
			for k := range in.Tags {
				have = append(have, k)
			}
		case f.name == "instance-state-name":
			have = []string{state(in)}
		case f.name == "availability-zone":
			have = []string{in.AZ}
		case f.name == "instance-id":
			have = []string{in.ID}
		default:
			return false, fmt.Errorf("the filter '%s' is invalid (fakeec2)", f.name)
		}
		hit := false
		for _, h := range have {
			for _, v := range f.values {
				if h == v {
					hit = true
				}
			}
		}
		if !hit {
			return false, nil
		}
	}
	return true, nil
}

var stateCodes = map[string]int{"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}

func describeXML(ins []Instance) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>fake</requestId><reservationSet>`)
	for i, in := range ins {
		fmt.Fprintf(&b, "<item><reservationId>r-%d</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet><item>", i)
		fmt.Fprintf(&b, "<instanceId>%s</instanceId><imageId>ami-fake</imageId>", xmlEscape(in.ID))
		fmt.Fprintf(&b, "<instanceState><code>%d</code><name>%s</name></instanceState>", stateCodes[state(in)], xmlEscape(state(in)))
		fmt.Fprintf(&b, "<placement><availabilityZone>%s</availabilityZone><tenancy>default</tenancy></placement>", xmlEscape(in.AZ))
		if in.PrivateIP != "" {
			fmt.Fprintf(&b, "<privateIpAddress>%s</privateIpAddress>", xmlEscape(in.PrivateIP))
		}
		if in.PublicIP != "" {
			fmt.Fprintf(&b, "<ipAddress>%s</ipAddress>", xmlEscape(in.PublicIP))
		}
		keys := make([]string, 0, len(in.Tags))
		for k := range in.Tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("<tagSet>")
		for _, k := range keys {
			fmt.Fprintf(&b, "<item><key>%s</key><value>%s</value></item>", xmlEscape(k), xmlEscape(in.Tags[k]))
		}
		b.WriteString("</tagSet></item></instancesSet></item>")
	}
	b.WriteString("</reservationSet></DescribeInstancesResponse>")
	return b.String()
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
