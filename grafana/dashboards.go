// Package grafana generates the Grafana dashboards in dashboards/ (the
// committed JSON is what Grafana loads). Its tests are in the tests/ module
// (tests/grafana): TestDashboardsUpToDate checks that the JSON matches this
// code, and `cd tests && go test ./grafana -run UpToDate -update` rewrites
// it; the others check the provisioning files and the Prometheus alert rules
// in alerts/, and run every dashboard query against a real Prometheus
// scraping a real cluster.
package grafana

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Datasource is the uid of the provisioned Prometheus data source, the
// default of every dashboard's datasource variable.
const Datasource = "prometheus"

// Dashboard is the part of Grafana's dashboard model these dashboards use.
type Dashboard struct {
	UID           string      `json:"uid"`
	Title         string      `json:"title"`
	Description   string      `json:"description"`
	Tags          []string    `json:"tags"`
	Editable      bool        `json:"editable"`
	GraphTooltip  int         `json:"graphTooltip"`
	Timezone      string      `json:"timezone"`
	Refresh       string      `json:"refresh"`
	SchemaVersion int         `json:"schemaVersion"`
	Version       int         `json:"version"`
	Time          TimeRange   `json:"time"`
	Annotations   Annotations `json:"annotations"`
	Links         []Link      `json:"links"`
	Templating    Templating  `json:"templating"`
	Panels        []*Panel    `json:"panels"`
}

// TimeRange is the default time range.
type TimeRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Annotations holds Grafana's built-in annotation query.
type Annotations struct {
	List []map[string]any `json:"list"`
}

// Link links the dashboards to each other.
type Link struct {
	Title       string   `json:"title"`
	Type        string   `json:"type"`
	Icon        string   `json:"icon"`
	Tooltip     string   `json:"tooltip"`
	Tags        []string `json:"tags"`
	AsDropdown  bool     `json:"asDropdown"`
	IncludeVars bool     `json:"includeVars"`
	KeepTime    bool     `json:"keepTime"`
}

// Templating holds the template variables.
type Templating struct {
	List []*Variable `json:"list"`
}

// Variable is a template variable.
type Variable struct {
	Name       string         `json:"name"`
	Label      string         `json:"label"`
	Type       string         `json:"type"`
	Datasource *DataSourceRef `json:"datasource,omitempty"`
	Query      any            `json:"query"`
	Definition string         `json:"definition,omitempty"`
	Current    map[string]any `json:"current"`
	Options    []any          `json:"options"`
	Refresh    int            `json:"refresh"`
	Regex      string         `json:"regex"`
	Sort       int            `json:"sort"`
	Multi      bool           `json:"multi"`
	IncludeAll bool           `json:"includeAll"`
	AllValue   string         `json:"allValue,omitempty"`
	Hide       int            `json:"hide"`
}

// DataSourceRef names a data source.
type DataSourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// GridPos places a panel.
type GridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

// Panel is a panel or a row.
type Panel struct {
	ID              int              `json:"id"`
	Type            string           `json:"type"`
	Title           string           `json:"title"`
	Description     string           `json:"description,omitempty"`
	GridPos         GridPos          `json:"gridPos"`
	Collapsed       *bool            `json:"collapsed,omitempty"`
	Panels          *[]*Panel        `json:"panels,omitempty"` // rows only
	Datasource      *DataSourceRef   `json:"datasource,omitempty"`
	Targets         []*Target        `json:"targets,omitempty"`
	FieldConfig     map[string]any   `json:"fieldConfig,omitempty"`
	Options         map[string]any   `json:"options,omitempty"`
	Transformations []map[string]any `json:"transformations,omitempty"`
}

// Target is one Prometheus query of a panel.
type Target struct {
	RefID        string         `json:"refId"`
	Datasource   *DataSourceRef `json:"datasource"`
	Expr         string         `json:"expr"`
	LegendFormat string         `json:"legendFormat,omitempty"`
	EditorMode   string         `json:"editorMode"`
	Range        bool           `json:"range"`
	Instant      bool           `json:"instant"`
	Format       string         `json:"format,omitempty"`
}

var promDS = &DataSourceRef{Type: "prometheus", UID: "${datasource}"}

// sel is the selector every dynomite_* query carries.
const sel = `datacenter=~"$datacenter", rack=~"$rack", instance=~"$instance"`

// S returns sel plus extra matchers.
func s(extra ...string) string {
	return "{" + strings.Join(append([]string{sel}, extra...), ", ") + "}"
}

// rate is rate(metric{sel, extra}[$__rate_interval]).
func rate(metric string, extra ...string) string {
	return "rate(" + metric + s(extra...) + "[$__rate_interval])"
}

// quantile is the q quantile of histogram metric by the given labels.
func quantile(q, metric, by string, extra ...string) string {
	if by != "" {
		by = ", " + by
	}
	return "histogram_quantile(" + q + ", sum by (le" + by + ") (" + rate(metric+"_bucket", extra...) + "))"
}

// q builds a range query target; legend may be empty.
func q(expr, legend string) *Target {
	return &Target{Datasource: promDS, Expr: expr, LegendFormat: legend, EditorMode: "code", Range: true}
}

// instant builds an instant table query target.
func instant(expr, legend string) *Target {
	return &Target{Datasource: promDS, Expr: expr, LegendFormat: legend, EditorMode: "code", Instant: true, Format: "table"}
}

// layout places panels left to right, rows of 24 columns.
type layout struct {
	id   int
	x, y int
	rowH int
	out  []*Panel
}

func (l *layout) row(title string) {
	if l.x > 0 {
		l.y += l.rowH
		l.x, l.rowH = 0, 0
	}
	l.id++
	f := false
	l.out = append(l.out, &Panel{ID: l.id, Type: "row", Title: title, Collapsed: &f, Panels: &[]*Panel{}, GridPos: GridPos{H: 1, W: 24, X: 0, Y: l.y}})
	l.y++
}

func (l *layout) add(p *Panel, w, h int) {
	if l.x+w > 24 {
		l.y += l.rowH
		l.x, l.rowH = 0, 0
	}
	l.id++
	p.ID = l.id
	p.GridPos = GridPos{H: h, W: w, X: l.x, Y: l.y}
	if p.Datasource == nil {
		p.Datasource = promDS
	}
	for i, t := range p.Targets {
		t.RefID = string(rune('A' + i))
	}
	l.x += w
	l.rowH = max(l.rowH, h)
	l.out = append(l.out, p)
}

func thresholds(steps ...any) map[string]any {
	var st []map[string]any
	for i := 0; i < len(steps); i += 2 {
		st = append(st, map[string]any{"color": steps[i], "value": steps[i+1]})
	}
	return map[string]any{"mode": "absolute", "steps": st}
}

var greenRed = thresholds("green", nil, "red", 1)

// timeseries is a line graph.
func timeseries(title, desc, unit string, targets ...*Target) *Panel {
	return &Panel{Type: "timeseries", Title: title, Description: desc, Targets: targets,
		FieldConfig: map[string]any{
			"defaults": map[string]any{
				"unit": unit,
				"min":  0,
				"custom": map[string]any{
					"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
					"spanNulls": false, "axisSoftMin": 0,
				},
			},
			"overrides": []any{},
		},
		Options: map[string]any{
			"legend":  map[string]any{"displayMode": "table", "placement": "bottom", "showLegend": true, "calcs": []string{"mean", "max", "lastNotNull"}},
			"tooltip": map[string]any{"mode": "multi", "sort": "desc"},
		},
	}
}

// stat is a single number.
func stat(title, desc, unit string, th map[string]any, mappings []any, textMode string, targets ...*Target) *Panel {
	if th == nil {
		th = thresholds("green", nil)
	}
	if mappings == nil {
		mappings = []any{}
	}
	return &Panel{Type: "stat", Title: title, Description: desc, Targets: targets,
		FieldConfig: map[string]any{
			"defaults":  map[string]any{"unit": unit, "thresholds": th, "mappings": mappings, "color": map[string]any{"mode": "thresholds"}},
			"overrides": []any{},
		},
		Options: map[string]any{
			"graphMode": "area", "colorMode": "value", "justifyMode": "auto", "textMode": textMode,
			"wideLayout": true, "showPercentChange": false, "percentChangeColorMode": "standard", "orientation": "auto",
			"reduceOptions": map[string]any{"values": false, "calcs": []string{"lastNotNull"}, "fields": ""},
		},
	}
}

// upDown maps 1 to UP (green) and 0 to DOWN (red).
var upDown = []any{map[string]any{"type": "value", "options": map[string]any{
	"0": map[string]any{"text": "DOWN", "color": "red", "index": 0},
	"1": map[string]any{"text": "UP", "color": "green", "index": 1},
}}}

func table(title, desc string, transformations []map[string]any, fieldDefaults map[string]any, targets ...*Target) *Panel {
	if fieldDefaults == nil {
		fieldDefaults = map[string]any{}
	}
	return &Panel{Type: "table", Title: title, Description: desc, Targets: targets, Transformations: transformations,
		FieldConfig: map[string]any{"defaults": fieldDefaults, "overrides": []any{}},
		Options:     map[string]any{"showHeader": true, "frameIndex": 0, "cellHeight": "sm"},
	}
}

func stateTimeline(title, desc string, targets ...*Target) *Panel {
	return &Panel{Type: "state-timeline", Title: title, Description: desc, Targets: targets,
		FieldConfig: map[string]any{
			"defaults":  map[string]any{"mappings": upDown, "thresholds": thresholds("red", nil, "green", 1), "color": map[string]any{"mode": "thresholds"}},
			"overrides": []any{},
		},
		Options: map[string]any{
			"showValue": "never", "rowHeight": 0.8, "mergeValues": true, "alignValue": "left",
			"legend":  map[string]any{"displayMode": "list", "placement": "bottom", "showLegend": false, "calcs": []string{}},
			"tooltip": map[string]any{"mode": "single", "sort": "none"},
		},
	}
}

// variables returns the template variables; instance is single-valued
// on the node dashboard.
func variables(multiInstance bool) []*Variable {
	query := func(name, label, q string, multi bool) *Variable {
		v := &Variable{Name: name, Label: label, Type: "query", Datasource: promDS,
			Query:      map[string]any{"query": q, "refId": "PrometheusVariableQueryEditor-VariableQuery", "qryType": 1},
			Definition: q, Options: []any{}, Refresh: 2, Sort: 1, Multi: multi, IncludeAll: multi}
		if multi {
			v.AllValue = ".*"
			v.Current = map[string]any{"selected": true, "text": []string{"All"}, "value": []string{"$__all"}}
		} else {
			v.Current = map[string]any{"selected": false, "text": "", "value": ""}
		}
		return v
	}
	return []*Variable{
		{Name: "datasource", Label: "Data source", Type: "datasource", Query: "prometheus", Options: []any{},
			Current: map[string]any{"selected": true, "text": "Prometheus", "value": Datasource}, Refresh: 1},
		query("job", "Job", "label_values(dynomite_build_info, job)", false),
		query("datacenter", "Datacenter", "label_values(dynomite_build_info{job=~\"$job\"}, datacenter)", true),
		query("rack", "Rack", "label_values(dynomite_build_info{job=~\"$job\", datacenter=~\"$datacenter\"}, rack)", true),
		query("instance", "Instance", "label_values(dynomite_build_info{job=~\"$job\", datacenter=~\"$datacenter\", rack=~\"$rack\"}, instance)", multiInstance),
	}
}

func dashboard(uid, title, desc string, multiInstance bool, panels []*Panel) *Dashboard {
	return &Dashboard{
		UID: uid, Title: title, Description: desc, Tags: []string{"dynomite"}, Editable: true, GraphTooltip: 1,
		Timezone: "browser", Refresh: "30s", SchemaVersion: 39, Version: 1,
		Time: TimeRange{From: "now-1h", To: "now"},
		Annotations: Annotations{List: []map[string]any{{
			"builtIn": 1, "datasource": map[string]any{"type": "grafana", "uid": "-- Grafana --"}, "enable": true,
			"hide": true, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard",
		}}},
		Links:      []Link{{Title: "Dynomite", Type: "dashboards", Icon: "external link", Tooltip: "", Tags: []string{"dynomite"}, AsDropdown: false, IncludeVars: true, KeepTime: true}},
		Templating: Templating{List: variables(multiInstance)},
		Panels:     panels,
	}
}

// Cluster is the cluster overview.
func Cluster() *Dashboard {
	l := &layout{}
	l.row("Overview")
	l.add(stat("Nodes reporting", "Nodes whose metrics Prometheus scrapes.", "none", nil, nil, "value",
		q(`count(dynomite_build_info`+s()+`)`, "")), 4, 4)
	l.add(stat("Nodes not scraped", "Scrape targets of the job that do not answer (node down or stats listener unreachable).", "none", greenRed, nil, "value",
		q(`count(up{job=~"$job", instance=~"$instance"} == 0) or vector(0)`, "")), 4, 4)
	l.add(stat("Datastores down", "Nodes whose local datastore is not connected.", "none", greenRed, nil, "value",
		q(`count(dynomite_datastore_up`+s()+` == 0) or vector(0)`, "")), 4, 4)
	l.add(stat("Peer links down", "Node-to-peer links that are down, counted from each node's side.", "none", greenRed, nil, "value",
		q(`count(dynomite_peer_up`+s()+` == 0) or vector(0)`, "")), 4, 4)
	l.add(stat("Requests", "Client requests per second, all selected nodes.", "reqps", nil, nil, "value",
		q(`sum(`+rate("dynomite_client_requests_total")+`)`, "")), 4, 4)
	l.add(stat("Error replies", "Share of client requests answered with an error.", "percentunit",
		thresholds("green", nil, "orange", 0.01, "red", 0.05), nil, "value",
		q(`sum(`+rate("dynomite_client_requests_total", `outcome="error"`)+`) / clamp_min(sum(`+rate("dynomite_client_requests_total")+`), 1e-9)`, "")), 4, 4)

	l.row("Traffic")
	l.add(timeseries("Requests by datacenter and rack", "Client requests per second.", "reqps",
		q(`sum by (datacenter, rack) (`+rate("dynomite_client_requests_total")+`)`, "{{datacenter}}/{{rack}}")), 12, 8)
	l.add(timeseries("Requests by command class", "Client requests per second by routing class.", "reqps",
		q(`sum by (class) (`+rate("dynomite_client_requests_total")+`)`, "{{class}}")), 12, 8)
	l.add(timeseries("Error replies by datacenter and rack", "Client requests answered with an error, per second.", "reqps",
		q(`sum by (datacenter, rack) (`+rate("dynomite_client_requests_total", `outcome="error"`)+`)`, "{{datacenter}}/{{rack}}")), 12, 8)
	l.add(timeseries("Client connections by datacenter and rack", "Open client connections.", "none",
		q(`sum by (datacenter, rack) (dynomite_client_connections`+s()+`)`, "{{datacenter}}/{{rack}}")), 12, 8)

	l.row("Latency")
	l.add(timeseries("Client latency p99 by datacenter and rack", "99th percentile of client-facing latency.", "s",
		q(quantile("0.99", "dynomite_client_request_duration_seconds", "datacenter, rack"), "{{datacenter}}/{{rack}}")), 12, 8)
	l.add(timeseries("Client latency percentiles", "Client-facing latency over all selected nodes.", "s",
		q(quantile("0.5", "dynomite_client_request_duration_seconds", ""), "p50"),
		q(quantile("0.95", "dynomite_client_request_duration_seconds", ""), "p95"),
		q(quantile("0.99", "dynomite_client_request_duration_seconds", ""), "p99"),
		q(quantile("0.999", "dynomite_client_request_duration_seconds", ""), "p99.9")), 12, 8)
	l.add(timeseries("Datastore latency p99 by datacenter and rack", "99th percentile of the round trip to each node's local datastore.", "s",
		q(quantile("0.99", "dynomite_datastore_request_duration_seconds", "datacenter, rack"), "{{datacenter}}/{{rack}}")), 12, 8)
	l.add(timeseries("Peer round trip by scope", "Round trips to peers: same rack, other racks of the datacenter, other datacenters.", "s",
		q(quantile("0.5", "dynomite_peer_request_duration_seconds", "scope"), "p50 {{scope}}"),
		q(quantile("0.99", "dynomite_peer_request_duration_seconds", "scope"), "p99 {{scope}}")), 12, 8)

	l.row("Errors")
	l.add(timeseries("Datastore errors by cause", "down: refused (not connected or ejected); failed: lost with a broken connection; timeout; connect_failure; ejection.", "ops",
		q(`sum by (datacenter, rack, cause) (`+rate("dynomite_datastore_errors_total")+`)`, "{{datacenter}}/{{rack}} {{cause}}")), 12, 8)
	l.add(timeseries("Peer errors by cause and peer datacenter", "Errors talking to peers, by the datacenter of the node reporting them and of the peer.", "ops",
		q(`sum by (datacenter, peer_dc, cause) (`+rate("dynomite_peer_errors_total")+`)`, "{{datacenter}} → {{peer_dc}} {{cause}}")), 12, 8)

	l.row("Peers")
	l.add(table("Peer up/down matrix", "Each row is a node (datacenter rack instance), each column a peer (datacenter rack name): UP or DOWN as that node sees it.",
		[]map[string]any{{"id": "groupingToMatrix", "options": map[string]any{"columnField": "peer", "rowField": "node", "valueField": "Value", "emptyValue": "null"}}},
		map[string]any{"mappings": upDown, "thresholds": thresholds("red", nil, "green", 1), "color": map[string]any{"mode": "thresholds"},
			"custom": map[string]any{"align": "center", "cellOptions": map[string]any{"type": "color-background"}}},
		instant(`max by (node, peer) (label_join(label_join(dynomite_peer_up`+s()+`, "node", " ", "datacenter", "rack", "instance"), "peer", " ", "peer_dc", "peer_rack", "peer"))`, "")), 24, 9)
	l.add(timeseries("Peer links down by datacenter and rack", "Peers each datacenter and rack sees as down.", "none",
		q(`sum by (datacenter, rack) (1 - dynomite_peer_up`+s()+`)`, "{{datacenter}}/{{rack}}")), 12, 8)
	l.add(timeseries("Peer requests by datacenter", "Requests sent to peers per second, from each datacenter to each peer datacenter.", "reqps",
		q(`sum by (datacenter, peer_dc) (`+rate("dynomite_peer_requests_total")+`)`, "{{datacenter}} → {{peer_dc}}")), 12, 8)

	l.row("Replication and consistency")
	l.add(timeseries("Remote-datacenter drops and failovers", "Copies of writes for another datacenter that went to a second rack (failover) or that no rack took (dropped: that datacenter misses the write).", "ops",
		q(`sum by (datacenter, rack) (`+rate("dynomite_remote_dc_dropped_requests_total")+`)`, "dropped {{datacenter}}/{{rack}}"),
		q(`sum by (datacenter, rack) (`+rate("dynomite_remote_dc_failover_requests_total")+`)`, "failover {{datacenter}}/{{rack}}")), 12, 8)
	l.add(timeseries("Quorum outcomes", "Client requests that failed their consistency level, against requests answered successfully.", "ops",
		q(`sum by (datacenter, rack) (`+rate("dynomite_quorum_failures_total")+`)`, "quorum failed {{datacenter}}/{{rack}}"),
		q(`sum by (datacenter, rack) (`+rate("dynomite_client_requests_total", `outcome="success"`)+`)`, "answered {{datacenter}}/{{rack}}")), 12, 8)
	l.add(timeseries("Read failovers", "DC_ONE reads served by another replica because the local rack's owner failed.", "ops",
		q(`sum by (datacenter, rack) (`+rate("dynomite_read_failover_requests_total")+`)`, "{{datacenter}}/{{rack}}")), 12, 8)
	l.add(table("Consistency levels", "Nodes per read and write consistency level.", nil, nil,
		instant(`sum by (op, level) (dynomite_consistency_level`+s()+`)`, "")), 6, 8)
	l.add(table("Node states", "Nodes per state (/state/...).", nil, nil,
		instant(`sum by (state) (dynomite_node_state`+s()+`)`, "")), 6, 8)

	l.row("Hinted handoff")
	l.add(timeseries("Hints pending by target", "Writes each node holds for a peer that missed them (proxy/hints): they replay once the peer is back. A level that does not fall after the peer returned means replay is stuck.", "none",
		q(`sum by (instance, target) (dynomite_hints_pending_records`+s()+`)`, "{{instance}} → {{target}}")), 12, 8)
	l.add(timeseries("Oldest undelivered hint", "Age of the oldest hint not yet delivered, per coordinator and target; past max_hint_window (3h by default) no new hints are kept for that target.", "s",
		q(`max by (instance, target) (dynomite_hint_replay_lag_seconds`+s()+`)`, "{{instance}} → {{target}}")), 12, 8)
	l.add(timeseries("Hints written and replayed", "Hints kept per second (copies that did not reach their replica) against hints delivered per second (replay, throttled by hint_replay_rate).", "ops",
		q(`sum by (datacenter, rack) (`+rate("dynomite_hints_written_total")+`)`, "written {{datacenter}}/{{rack}}"),
		q(`sum by (datacenter, rack) (`+rate("dynomite_hints_replayed_total")+`)`, "replayed {{datacenter}}/{{rack}}"),
		q(`sum by (datacenter, rack) (`+rate("dynomite_hints_superseded_total")+`)`, "refused as older {{datacenter}}/{{rack}}")), 8, 8)
	l.add(timeseries("Writes missed with no hint", "Writes a replica missed that no hint was kept for, by target and reason (window, max_bytes, disk_error, corrupt): those replicas stay different until repaired. Should be zero.", "ops",
		q(`sum by (target, reason) (`+rate("dynomite_hints_dropped_total")+`)`, "{{target}} {{reason}}")), 8, 8)
	l.add(timeseries("Hint bytes pending", "Bytes of undelivered hints per coordinator and target (capped by max_hints_bytes, 1 GiB by default).", "bytes",
		q(`sum by (instance, target) (dynomite_hints_pending_bytes`+s()+`)`, "{{instance}} → {{target}}")), 8, 8)

	l.row("Ring")
	l.add(table("Ring: nodes and tokens per rack", "The token ring as the selected nodes see it.",
		[]map[string]any{{"id": "merge", "options": map[string]any{}}, {"id": "organize", "options": map[string]any{
			"excludeByName": map[string]any{"Time": true},
			"renameByName":  map[string]any{"ring_dc": "datacenter", "ring_rack": "rack", "Value #A": "nodes", "Value #B": "tokens"},
		}}}, nil,
		instant(`max by (ring_dc, ring_rack) (dynomite_ring_members`+s()+`)`, ""),
		instant(`max by (ring_dc, ring_rack) (dynomite_ring_tokens`+s()+`)`, "")), 12, 8)
	l.add(timeseries("Ring members per datacenter", "Nodes in the ring, per datacenter, as the selected nodes see it.", "none",
		q(`sum by (ring_dc) (max by (ring_dc, ring_rack) (dynomite_ring_members`+s()+`))`, "{{ring_dc}}")), 12, 8)

	return dashboard("dynomite-cluster", "Dynomite / Cluster overview",
		"Traffic, latency and errors by datacenter and rack; peer links; replication and consistency; hinted handoff.", true, l.out)
}

// Node is the view of one node.
func Node() *Dashboard {
	l := &layout{}
	l.row("Node")
	l.add(stat("Version", "dynomite_build_info.", "none", nil, nil, "name",
		q(`max by (version) (dynomite_build_info`+s()+`)`, "{{version}}")), 4, 4)
	l.add(stat("Uptime", "Time since the process started.", "s", nil, nil, "value",
		q(`time() - max(process_start_time_seconds`+s()+`)`, "")), 4, 4)
	l.add(stat("Datastore", "The local datastore connection.", "none", thresholds("red", nil, "green", 1), upDown, "value",
		q(`min(dynomite_datastore_up`+s()+`)`, "")), 4, 4)
	l.add(stat("State", "The node state (/state/...).", "none", nil, nil, "name",
		q(`max by (state) (dynomite_node_state`+s()+`) == 1`, "{{state}}")), 4, 4)
	l.add(stat("Read consistency", "Node-wide read level (new connections).", "none", nil, nil, "name",
		q(`max by (level) (dynomite_consistency_level`+s(`op="read"`)+`) == 1`, "{{level}}")), 4, 4)
	l.add(stat("Write consistency", "Node-wide write level (new connections).", "none", nil, nil, "name",
		q(`max by (level) (dynomite_consistency_level`+s(`op="write"`)+`) == 1`, "{{level}}")), 4, 4)

	l.row("Clients")
	l.add(timeseries("Requests by class and outcome", "Client requests per second.", "reqps",
		q(`sum by (class, outcome) (`+rate("dynomite_client_requests_total")+`)`, "{{class}} {{outcome}}")), 12, 8)
	l.add(timeseries("Client latency by class", "Client-facing latency percentiles per routing class.", "s",
		q(quantile("0.5", "dynomite_client_request_duration_seconds", "class"), "p50 {{class}}"),
		q(quantile("0.99", "dynomite_client_request_duration_seconds", "class"), "p99 {{class}}")), 12, 8)
	l.add(timeseries("Connections and requests in flight", "Open client connections and requests being served.", "none",
		q(`sum(dynomite_client_connections`+s()+`)`, "connections"),
		q(`sum(dynomite_client_requests_in_flight`+s()+`)`, "in flight")), 12, 8)
	l.add(timeseries("Client bytes", "Request and reply bytes per second.", "Bps",
		q(`sum(`+rate("dynomite_client_request_bytes_total")+`)`, "requests"),
		q(`sum(`+rate("dynomite_client_response_bytes_total")+`)`, "replies")), 12, 8)
	l.add(timeseries("Clients turned away by a limit", "Connections refused or closed and requests refused, per second, by the limit's key (max_client_connections, max_request_bytes, max_buffered_bytes, client_read_timeout, client_idle_timeout).", "ops",
		q(`sum by (limit) (`+rate("dynomite_client_limit_rejections_total")+`)`, "{{limit}}")), 24, 6)

	l.row("Datastore")
	l.add(timeseries("Datastore requests and replies", "Requests to the local datastore (from clients and peers) and its replies.", "reqps",
		q(`sum(`+rate("dynomite_datastore_requests_total")+`)`, "requests"),
		q(`sum(`+rate("dynomite_datastore_responses_total")+`)`, "replies")), 8, 8)
	l.add(timeseries("Datastore latency", "Round trip to the local datastore.", "s",
		q(quantile("0.5", "dynomite_datastore_request_duration_seconds", ""), "p50"),
		q(quantile("0.99", "dynomite_datastore_request_duration_seconds", ""), "p99"),
		q(quantile("0.999", "dynomite_datastore_request_duration_seconds", ""), "p99.9")), 8, 8)
	l.add(timeseries("Datastore errors by cause", "down, failed, timeout, connect_failure, ejection.", "ops",
		q(`sum by (cause) (`+rate("dynomite_datastore_errors_total")+`)`, "{{cause}}")), 8, 8)

	l.row("Peers")
	l.add(stateTimeline("Peer up", "Each peer as this node sees it.",
		q(`max by (peer_dc, peer_rack, peer) (dynomite_peer_up`+s()+`)`, "{{peer_dc}}/{{peer_rack}} {{peer}}")), 12, 8)
	l.add(timeseries("Peer round trip by scope", "Round trips to peers of this rack, of other racks, of other datacenters.", "s",
		q(quantile("0.5", "dynomite_peer_request_duration_seconds", "scope"), "p50 {{scope}}"),
		q(quantile("0.99", "dynomite_peer_request_duration_seconds", "scope"), "p99 {{scope}}")), 12, 8)
	l.add(timeseries("Peer requests by peer", "Requests sent to each peer per second.", "reqps",
		q(`sum by (peer_dc, peer_rack, peer) (`+rate("dynomite_peer_requests_total")+`)`, "{{peer_dc}}/{{peer_rack}} {{peer}}")), 12, 8)
	l.add(timeseries("Peer errors by peer and cause", "Errors talking to each peer.", "ops",
		q(`sum by (peer, cause) (`+rate("dynomite_peer_errors_total")+`)`, "{{peer}} {{cause}}")), 12, 8)

	l.row("Replication")
	l.add(timeseries("Failovers, drops and quorum failures", "Read failovers, remote-datacenter failovers and drops, requests that failed their consistency level.", "ops",
		q(`sum(`+rate("dynomite_read_failover_requests_total")+`)`, "read failover"),
		q(`sum(`+rate("dynomite_remote_dc_failover_requests_total")+`)`, "remote failover"),
		q(`sum(`+rate("dynomite_remote_dc_dropped_requests_total")+`)`, "remote dropped"),
		q(`sum(`+rate("dynomite_quorum_failures_total")+`)`, "quorum failed")), 24, 8)

	l.row("Process")
	l.add(timeseries("CPU", "CPU seconds per second.", "percentunit",
		q(`sum(`+rate("process_cpu_seconds_total")+`)`, "cpu")), 6, 8)
	l.add(timeseries("Memory", "Resident set and Go heap in use.", "bytes",
		q(`sum(process_resident_memory_bytes`+s()+`)`, "resident"),
		q(`sum(go_memstats_heap_inuse_bytes`+s()+`)`, "heap in use")), 6, 8)
	l.add(timeseries("Goroutines", "Goroutines of the process.", "none",
		q(`sum(go_goroutines`+s()+`)`, "goroutines")), 6, 8)
	l.add(timeseries("Open file descriptors", "Sockets and files open.", "none",
		q(`sum(process_open_fds`+s()+`)`, "open"),
		q(`max(process_max_fds`+s()+`)`, "limit")), 6, 8)

	return dashboard("dynomite-node", "Dynomite / Node",
		"One node: clients, datastore, peers, replication, process.", false, l.out)
}

// Dashboards returns every dashboard by file name (under dashboards/).
func Dashboards() map[string]*Dashboard {
	return map[string]*Dashboard{"dynomite-cluster.json": Cluster(), "dynomite-node.json": Node()}
}

// Files returns the dashboards as written to disk: file name (under
// dashboards/) to indented JSON.
func Files() (map[string][]byte, error) {
	out := map[string][]byte{}
	for name, d := range Dashboards() {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("encoding %s: %w", name, err)
		}
		out[name] = b.Bytes()
	}
	return out, nil
}
