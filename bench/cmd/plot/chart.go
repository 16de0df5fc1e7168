package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// scaleChart draws ns/op against N on a log x axis, one line per series.
func scaleChart(dim string, names []string, series map[string][]Point) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Whole decision against the number of " + dim
	p.X.Label.Text = dim + " (N, log scale)"
	p.Y.Label.Text = "ns/op (median)"
	p.X.Scale = plot.LogScale{}
	p.Y.Min = 0
	p.Y.Tick.Marker = groupedTicks{}
	p.Legend.Top = true
	p.Legend.Left = true

	seen := map[float64]bool{}
	var ticks []plot.Tick
	for i, name := range names {
		pts := make(plotter.XYs, len(series[name]))
		for j, pt := range series[name] {
			pts[j] = plotter.XY{X: pt.N, Y: pt.NsPerOp}
			if !seen[pt.N] {
				seen[pt.N] = true
				ticks = append(ticks, plot.Tick{Value: pt.N, Label: strconv.FormatFloat(pt.N, 'f', -1, 64)})
			}
		}
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, fmt.Errorf("series %s: %w", name, err)
		}
		l.Color = plotutil.Color(i)
		l.Dashes = plotutil.Dashes(i)
		s.Color = plotutil.Color(i)
		s.Shape = plotutil.Shape(i)
		p.Add(l, s)
		p.Legend.Add(strings.TrimPrefix(name, "Benchmark"), l, s)
	}
	// Ticks at the Ns measured, since log ticks label only powers of ten;
	// some room on either side of the first and last N, and above the
	// highest line for the legend.
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = p.X.Min/1.4, p.X.Max*1.4
	p.Y.Max *= 1.25
	p.Add(plotter.NewGrid())
	return p, nil
}

// barChart draws, for each case, Provost's and the reference's median
// ns/op side by side; each case's label says how many times the
// reference's time Provost's is faster (reference ns/op ÷ Provost ns/op).
func barChart(title, refName string, pairs []Pair) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = "ns/op (median, lower is better)"
	p.Y.Min = 0
	p.Y.Tick.Marker = groupedTicks{}
	p.Legend.Top = true

	prov := make(plotter.Values, len(pairs))
	ref := make(plotter.Values, len(pairs))
	labels := make([]string, len(pairs))
	for i, c := range pairs {
		prov[i], ref[i] = c.Provost, c.Reference
		switch {
		case !c.HasProvost:
			labels[i] = c.Case + "\n(no provost)"
		case !c.HasReference:
			labels[i] = c.Case + "\n(no " + refName + ")"
		case c.Provost > 0:
			labels[i] = fmt.Sprintf("%s\nprovost %.2f× as fast", c.Case, c.Reference/c.Provost)
		default:
			labels[i] = c.Case
		}
	}
	w := vg.Points(24)
	for i, side := range []struct {
		name string
		vals plotter.Values
	}{{"provost", prov}, {refName, ref}} {
		b, err := plotter.NewBarChart(side.vals, w)
		if err != nil {
			return nil, err
		}
		b.Color = plotutil.Color(i)
		b.LineStyle.Width = vg.Length(0)
		b.Offset = w * vg.Length(2*i-1) / 2
		p.Add(b)
		p.Legend.Add(side.name, b)
	}
	p.NominalX(labels...)
	p.X.Min, p.X.Max = -0.6, float64(len(pairs))-0.4
	p.Y.Max *= 1.2 // room for the legend
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	p.Add(grid)
	return p, nil
}

// groupedTicks are the default ticks labelled as whole numbers with their
// thousands grouped ("1 250 000"), as BENCHMARKS.md writes ns/op.
type groupedTicks struct{}

func (groupedTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i, t := range ticks {
		if t.Label != "" {
			ticks[i].Label = grouped(t.Value)
		}
	}
	return ticks
}

// grouped formats v rounded to a whole number with spaces between groups
// of three digits.
func grouped(v float64) string {
	s := strconv.FormatFloat(math.Round(math.Abs(v)), 'f', 0, 64)
	var b strings.Builder
	if v < 0 && s != "0" {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}
