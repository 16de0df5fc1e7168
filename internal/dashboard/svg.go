package dashboard

import (
	"math"
	"slices"
	"time"
)

// The decisions-over-time chart: plain SVG, bars stacked by outcome.
const (
	chartW, chartH           = 720.0, 220.0
	chartLeft, chartRight    = 48.0, 8.0
	chartTop, chartBottom    = 10.0, 28.0
	maxBars                  = 120
	hourWidth, dayWidth      = 1, 24
	weekWidth                = 7 * 24
	barGap                   = 0.15
	maxBarW                  = 36.0
	chartHourSpan, chartDays = 72, 120
)

// chart is the geometry of the decisions-over-time chart.
type chart struct {
	W, H              float64
	Left, Top, Bottom float64 // the plot's left edge, top and baseline
	Right             float64
	Bars              []bar
	Unit              string // hour, day, week
	From, To          time.Time
	Max               int64
	Empty             bool
}

// bar is one bucket's stacked bar.
type bar struct {
	X, W                float64
	Start               time.Time
	Allow, StepUp, Deny int64
	Segs                []seg
}

// seg is one outcome's part of a bar.
type seg struct {
	Class string // allow, step_up, deny
	Y, H  float64
}

// decisionsChart buckets the hourly counts by hour, day or week, so that
// the span kept fits in at most maxBars bars.
func decisionsChart(hours map[int64][3]int64) chart {
	c := chart{W: chartW, H: chartH, Left: chartLeft, Top: chartTop, Bottom: chartH - chartBottom, Right: chartW - chartRight}
	if len(hours) == 0 {
		c.Empty = true
		return c
	}
	keys := make([]int64, 0, len(hours))
	for h := range hours {
		keys = append(keys, h)
	}
	slices.Sort(keys)
	first, last := keys[0], keys[len(keys)-1]
	width, unit := int64(hourWidth), "hour"
	switch span := last - first + 1; {
	case span > chartDays*24:
		width, unit = weekWidth, "week"
	case span > chartHourSpan:
		width, unit = dayWidth, "day"
	}
	start := first - first%width
	n := min(int((last-start)/width)+1, maxBars)
	start = max(start, last-last%width-int64(n-1)*width)
	c.Unit = unit
	c.From, c.To = time.Unix(start*3600, 0).UTC(), time.Unix((start+int64(n)*width)*3600, 0).UTC()
	c.Bars = make([]bar, n)
	for i := range c.Bars {
		c.Bars[i].Start = time.Unix((start+int64(i)*width)*3600, 0).UTC()
	}
	for h, v := range hours {
		i := (h - start) / width
		if h < start || i >= int64(n) {
			continue
		}
		b := &c.Bars[i]
		b.Allow += v[slotAllow]
		b.StepUp += v[slotStepUp]
		b.Deny += v[slotDeny]
	}
	for _, b := range c.Bars {
		c.Max = max(c.Max, b.Allow+b.StepUp+b.Deny)
	}
	step := (c.Right - c.Left) / float64(n)
	plot := c.Bottom - c.Top
	for i := range c.Bars {
		b := &c.Bars[i]
		b.W = min(step*(1-barGap), maxBarW)
		b.X = c.Left + float64(i)*step + (step-b.W)/2
		y := c.Bottom
		for _, s := range []struct {
			class string
			n     int64
		}{{"allow", b.Allow}, {"step_up", b.StepUp}, {"deny", b.Deny}} {
			if s.n == 0 || c.Max == 0 {
				continue
			}
			h := plot * float64(s.n) / float64(c.Max)
			y -= h
			b.Segs = append(b.Segs, seg{Class: s.class, Y: y, H: h})
		}
	}
	return c
}

// Total is the bar's decisions.
func (b bar) Total() int64 { return b.Allow + b.StepUp + b.Deny }

// The origin graph: the credential in the middle, its origins on a ring.
const (
	graphW, graphH = 760.0, 560.0
	graphCX        = graphW / 2
	graphCY        = 250.0
	graphRing      = 185.0
	nodeR          = 24.0
	centerR        = 52.0
	lineH          = 14.0
	maxNodes       = 24
	minEdge        = 1.5
	maxEdge        = 9.0
)

// graph is the geometry of a credential's origin graph.
type graph struct {
	W, H, CX, CY, R float64
	Center          string // the credential, as shown
	Nodes           []gnode
	More            int // origins left out
}

// gnode is one origin around the credential.
type gnode struct {
	originNode
	X, Y, R float64
	Edge    float64 // the edge's width, by count
	TextY   float64 // the first label line's baseline
}

// layoutGraph places up to maxNodes origins (most used first) on a ring
// around the credential, edges as wide as their counts.
func layoutGraph(center string, nodes []originNode) graph {
	g := graph{W: graphW, H: graphH, CX: graphCX, CY: graphCY, R: centerR, Center: center}
	if len(nodes) > maxNodes {
		g.More, nodes = len(nodes)-maxNodes, nodes[:maxNodes]
	}
	var top int64 = 1
	for _, n := range nodes {
		top = max(top, n.Count)
	}
	for i, n := range nodes {
		a := 2*math.Pi*float64(i)/float64(len(nodes)) - math.Pi/2
		if len(nodes) == 2 {
			a = math.Pi * float64(i) // left and right
		}
		x, y := graphCX+graphRing*math.Cos(a), graphCY+graphRing*math.Sin(a)
		w := minEdge + (maxEdge-minEdge)*math.Log1p(float64(n.Count))/math.Log1p(float64(top))
		// Labels go on the outer side of the node, away from its edge.
		textY := y + nodeR + 16
		if y < graphCY-1 {
			lines := len(n.Lines)
			if n.Anomalous {
				lines++
			}
			textY = y - nodeR - 10 - float64(lines-1)*lineH
		}
		g.Nodes = append(g.Nodes, gnode{originNode: n, X: round1(x), Y: round1(y), R: nodeR, Edge: round1(w), TextY: round1(textY)})
	}
	return g
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
