package binding

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// window is one compiled time window: minutes of the day [start, end) in
// loc, on the days set in days (indexed by time.Weekday). start > end
// crosses midnight: the part after midnight belongs to the day before.
type window struct {
	days       [7]bool
	start, end int
	loc        *time.Location
	text       string
}

func compileWindow(path string, w WindowSpec) (window, error) {
	if len(w.Days) == 0 && w.Hours == "" {
		return window{}, bad(path, "a window needs days, hours or both")
	}
	cw := window{start: 0, end: 24 * 60, loc: time.UTC}
	if len(w.Days) == 0 {
		cw.days = [7]bool{true, true, true, true, true, true, true}
	}
	for i, d := range w.Days {
		n := dayIndex(d)
		if n < 0 {
			return window{}, bad(fmt.Sprintf("%s.days[%d]", path, i), "%q is not a day: use mon, tue, wed, thu, fri, sat or sun", d)
		}
		if cw.days[n] {
			return window{}, bad(fmt.Sprintf("%s.days[%d]", path, i), "%q is listed twice", d)
		}
		cw.days[n] = true
	}
	if w.Hours != "" {
		start, end, err := parseHours(w.Hours)
		if err != nil {
			return window{}, bad(path+".hours", "%q: %v", w.Hours, err)
		}
		cw.start, cw.end = start, end
	}
	if w.TZ != "" {
		if w.TZ == "Local" {
			return window{}, bad(path+".tz", "name an IANA time zone such as Europe/Berlin, not Local")
		}
		loc, err := time.LoadLocation(w.TZ)
		if err != nil {
			return window{}, bad(path+".tz", "%q is not an IANA time zone such as Europe/Berlin", w.TZ)
		}
		cw.loc = loc
	}
	cw.text = windowText(w, cw.loc)
	return cw, nil
}

func dayIndex(d string) int {
	for i, n := range dayNames {
		if d == n {
			return i
		}
	}
	return -1
}

// parseHours reads "HH:MM-HH:MM" into minutes of the day. The end is
// exclusive and may be 24:00; an end before the start crosses midnight.
func parseHours(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, errors.New("want HH:MM-HH:MM, such as 08:00-20:00")
	}
	start, err := parseClock(a, false)
	if err != nil {
		return 0, 0, err
	}
	end, err := parseClock(b, true)
	if err != nil {
		return 0, 0, err
	}
	if start == end {
		return 0, 0, errors.New("start and end are equal: for the whole day leave hours out")
	}
	return start, end, nil
}

func parseClock(s string, end bool) (int, error) {
	if len(s) != 5 || s[2] != ':' || !digits(s[:2]) || !digits(s[3:]) {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if end && h == 24 && m == 0 {
		return 24 * 60, nil
	}
	if h > 23 || m > 59 {
		return 0, fmt.Errorf("%q is not a time of day", s)
	}
	return h*60 + m, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// contains reports whether t falls in the window.
func (w *window) contains(t time.Time) bool {
	t = t.In(w.loc)
	mins := t.Hour()*60 + t.Minute()
	day := int(t.Weekday())
	if w.start < w.end {
		return w.days[day] && mins >= w.start && mins < w.end
	}
	// Crossing midnight: the evening part on the day itself, the morning
	// part on the day after.
	return (w.days[day] && mins >= w.start) || (w.days[(day+6)%7] && mins < w.end)
}

func windowText(w WindowSpec, loc *time.Location) string {
	days := "every day"
	if len(w.Days) > 0 {
		days = strings.Join(w.Days, ",")
	}
	hours := "all day"
	if w.Hours != "" {
		hours = w.Hours
	}
	return days + " " + hours + " " + loc.String()
}
