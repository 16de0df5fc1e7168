package trail

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

func writeMarkdown(w io.Writer, s Summary) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Provost evidence report\n\n%s to %s: %s.\n", stamp(s.From), stamp(s.To), totals(s))
	framework := ""
	for _, f := range s.Findings {
		if f.Framework != framework {
			framework = f.Framework
			fmt.Fprintf(&b, "\n## %s\n\n| id | name | records | denied or stepped up | credentials | first | last |\n| --- | --- | --- | --- | --- | --- | --- |\n", md(framework))
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %s | %s |\n", md(f.ID), md(f.Name), f.Count, f.Denied, f.Credentials, stamp(f.First), stamp(f.Last))
	}
	if len(s.Findings) == 0 {
		b.WriteString("\nNo record carried a framework reference.\n")
	}
	if len(s.Buckets) > 0 {
		unit := widthName(s.Width)
		fmt.Fprintf(&b, "\n## Decisions over time (per %s)\n\n| from | allow | step_up | deny |\n| --- | --- | --- | --- |\n", unit)
		var empty int64
		for _, k := range s.Buckets {
			if k.Empty() {
				empty++
				continue
			}
			fmt.Fprintf(&b, "| %s | %d | %d | %d |\n", stamp(k.Start), k.Allow, k.StepUp, k.Deny)
		}
		if empty > 0 {
			verb := "are"
			if empty == 1 {
				verb = "is"
			}
			fmt.Fprintf(&b, "\n%s without a decision %s left out.\n", Plural(empty, unit, unit+"s"), verb)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Plural is n followed by one or many, as n requires: "1 use", "2 uses".
func Plural(n int64, one, many string) string {
	if n == 1 || n == -1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// totals is the summary's sentence: "5 decisions, 2 allowed, 0 stepped
// up, 3 denied".
func totals(s Summary) string {
	return fmt.Sprintf("%s, %d allowed, %d stepped up, %d denied", Plural(s.Total, "decision", "decisions"), s.Allow, s.StepUp, s.Deny)
}

// md escapes a table cell.
func md(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func widthName(w time.Duration) string {
	switch w {
	case time.Hour:
		return "hour"
	case 24 * time.Hour:
		return "day"
	}
	return "week"
}

// Chart geometry, in SVG user units.
const (
	chartHeight = 200
	barWidth    = 12
	barGap      = 2
	chartLeft   = 40
)

type bar struct {
	X, YAllow, HAllow, YStep, HStep, YDeny, HDeny int
	Title                                         string
}

type htmlPage struct {
	Summary
	Frameworks []htmlFramework
	Bars       []bar
	Width, Max int
	Unit       string
	FromS, ToS string
	Totals     string
}

type htmlFramework struct {
	Name     string
	Findings []Finding
}

func writeHTML(w io.Writer, s Summary) error {
	p := htmlPage{Summary: s, Unit: widthName(s.Width), FromS: stamp(s.From), ToS: stamp(s.To), Totals: totals(s)}
	for _, f := range s.Findings {
		if n := len(p.Frameworks); n == 0 || p.Frameworks[n-1].Name != f.Framework {
			p.Frameworks = append(p.Frameworks, htmlFramework{Name: f.Framework})
		}
		p.Frameworks[len(p.Frameworks)-1].Findings = append(p.Frameworks[len(p.Frameworks)-1].Findings, f)
	}
	var most int64 = 1
	for _, k := range s.Buckets {
		most = max(most, k.Allow+k.StepUp+k.Deny)
	}
	p.Max = int(most)
	for i, k := range s.Buckets {
		scale := func(n int64) int { return int(n * chartHeight / most) }
		b := bar{X: chartLeft + i*(barWidth+barGap), HAllow: scale(k.Allow), HStep: scale(k.StepUp), HDeny: scale(k.Deny),
			Title: fmt.Sprintf("%s: %d allow, %d step_up, %d deny", stamp(k.Start), k.Allow, k.StepUp, k.Deny)}
		b.YAllow = chartHeight - b.HAllow
		b.YStep = b.YAllow - b.HStep
		b.YDeny = b.YStep - b.HDeny
		p.Bars = append(p.Bars, b)
	}
	p.Width = chartLeft + len(s.Buckets)*(barWidth+barGap) + 10
	return reportTemplate.Execute(w, p)
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Provost evidence report</title>
<style>
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }
.allow { fill: #3a7d44; } .step_up { fill: #e0a100; } .deny { fill: #c0392b; }
</style>
</head>
<body>
<h1>Provost evidence report</h1>
<p>{{.FromS}} to {{.ToS}}: {{.Totals}}.</p>
<h2>Decisions over time (per {{.Unit}})</h2>
<svg xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="230" viewBox="0 0 {{.Width}} 230" role="img" aria-label="decisions per {{.Unit}}">
<text x="0" y="12" font-size="10">{{.Max}}</text>
<text x="0" y="200" font-size="10">0</text>
<line x1="38" y1="200" x2="{{.Width}}" y2="200" stroke="#999"/>
{{range .Bars}}<g><title>{{.Title}}</title>
<rect class="allow" x="{{.X}}" y="{{.YAllow}}" width="12" height="{{.HAllow}}"/>
<rect class="step_up" x="{{.X}}" y="{{.YStep}}" width="12" height="{{.HStep}}"/>
<rect class="deny" x="{{.X}}" y="{{.YDeny}}" width="12" height="{{.HDeny}}"/></g>
{{end}}<text x="40" y="220" font-size="10">{{.FromS}}</text>
<rect class="allow" x="200" y="212" width="10" height="10"/><text x="214" y="221" font-size="10">allow</text>
<rect class="step_up" x="250" y="212" width="10" height="10"/><text x="264" y="221" font-size="10">step_up</text>
<rect class="deny" x="310" y="212" width="10" height="10"/><text x="324" y="221" font-size="10">deny</text>
</svg>
<h2>Findings</h2>
{{range .Frameworks}}<h3>{{.Name}}</h3>
<table>
<tr><th>id</th><th>name</th><th>records</th><th>denied or stepped up</th><th>credentials</th><th>first</th><th>last</th></tr>
{{range .Findings}}<tr><td>{{.ID}}</td><td>{{.Name}}</td><td>{{.Count}}</td><td>{{.Denied}}</td><td>{{.Credentials}}</td><td>{{.First.Format "2006-01-02T15:04:05Z07:00"}}</td><td>{{.Last.Format "2006-01-02T15:04:05Z07:00"}}</td></tr>
{{end}}</table>
{{else}}<p>No record carried a framework reference.</p>
{{end}}</body>
</html>
`))
