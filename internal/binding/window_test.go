package binding

import (
	"testing"
	"time"
)

func mustWindow(t *testing.T, w WindowSpec) window {
	t.Helper()
	cw, err := compileWindow("w", w)
	if err != nil {
		t.Fatal(err)
	}
	return cw
}

func TestWindowContains(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// 13 June 2025 is a Friday.
	at := func(day, h, m int, loc *time.Location) time.Time { return time.Date(2025, 6, day, h, m, 0, 0, loc) }
	cases := []struct {
		name string
		w    WindowSpec
		t    time.Time
		want bool
	}{
		{"office hours in", WindowSpec{Days: []string{"mon", "fri"}, Hours: "08:00-20:00"}, at(13, 8, 0, time.UTC), true},
		{"end is exclusive", WindowSpec{Hours: "08:00-20:00"}, at(13, 20, 0, time.UTC), false},
		{"last minute", WindowSpec{Hours: "08:00-20:00"}, at(13, 19, 59, time.UTC).Add(59 * time.Second), true},
		{"before start", WindowSpec{Hours: "08:00-20:00"}, at(13, 7, 59, time.UTC), false},
		{"wrong day", WindowSpec{Days: []string{"mon"}, Hours: "08:00-20:00"}, at(13, 9, 0, time.UTC), false},
		{"days only", WindowSpec{Days: []string{"sat", "sun"}}, at(14, 23, 59, time.UTC), true},
		{"days only, weekday", WindowSpec{Days: []string{"sat", "sun"}}, at(13, 12, 0, time.UTC), false},
		{"to 24:00", WindowSpec{Hours: "22:00-24:00"}, at(13, 23, 59, time.UTC), true},
		{"to 24:00, midnight", WindowSpec{Hours: "22:00-24:00"}, at(14, 0, 0, time.UTC), false},
		// Crossing midnight: the part after midnight belongs to the day the window starts.
		{"night, friday evening", WindowSpec{Days: []string{"fri"}, Hours: "22:00-06:00"}, at(13, 23, 0, time.UTC), true},
		{"night, saturday morning", WindowSpec{Days: []string{"fri"}, Hours: "22:00-06:00"}, at(14, 3, 0, time.UTC), true},
		{"night, saturday 06:00", WindowSpec{Days: []string{"fri"}, Hours: "22:00-06:00"}, at(14, 6, 0, time.UTC), false},
		{"night, friday morning", WindowSpec{Days: []string{"fri"}, Hours: "22:00-06:00"}, at(13, 3, 0, time.UTC), false},
		{"night, saturday evening", WindowSpec{Days: []string{"fri"}, Hours: "22:00-06:00"}, at(14, 23, 0, time.UTC), false},
		{"night, friday noon", WindowSpec{Days: []string{"fri"}, Hours: "22:00-06:00"}, at(13, 12, 0, time.UTC), false},
		{"night every day", WindowSpec{Hours: "22:00-06:00"}, at(10, 1, 0, time.UTC), true},
		// Time zones: the window is in tz, whatever zone the time is in.
		{"berlin, utc time inside", WindowSpec{Hours: "08:00-20:00", TZ: "Europe/Berlin"}, at(13, 17, 59, time.UTC), true},
		{"berlin, utc time outside", WindowSpec{Hours: "08:00-20:00", TZ: "Europe/Berlin"}, at(13, 18, 0, time.UTC), false},
		{"berlin, local time", WindowSpec{Hours: "08:00-20:00", TZ: "Europe/Berlin"}, at(13, 8, 0, berlin), true},
		{"new york, day shifts", WindowSpec{Days: []string{"fri"}, Hours: "20:00-23:00", TZ: "America/New_York"}, at(14, 1, 30, time.UTC), true},
		{"new york, winter offset", WindowSpec{Hours: "09:00-17:00", TZ: "America/New_York"}, time.Date(2025, 1, 15, 14, 0, 0, 0, time.UTC), true},
		{"new york, winter offset before", WindowSpec{Hours: "09:00-17:00", TZ: "America/New_York"}, time.Date(2025, 1, 15, 13, 59, 0, 0, time.UTC), false},
		{"new york, local", WindowSpec{Hours: "09:00-17:00", TZ: "America/New_York"}, at(13, 16, 59, ny), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := mustWindow(t, c.w)
			if got := w.contains(c.t); got != c.want {
				t.Errorf("contains(%s) = %v, want %v", c.t, got, c.want)
			}
		})
	}
}

func TestAnyWindowMatches(t *testing.T) {
	b := mustParse(t, `version: 1
bindings:
  - name: a
    match: {issuer: x}
    require:
      time:
        windows:
          - {days: [mon, tue, wed, thu, fri], hours: "08:00-18:00", tz: Europe/Berlin}
          - {days: [sat], hours: "10:00-12:00", tz: UTC}
`).Bindings[0]
	for _, c := range []struct {
		t    time.Time
		want Status
	}{
		{time.Date(2025, 6, 11, 9, 0, 0, 0, time.UTC), StatusPass},  // Wed 11:00 Berlin
		{time.Date(2025, 6, 14, 11, 0, 0, 0, time.UTC), StatusPass}, // Sat 11:00 UTC
		{time.Date(2025, 6, 14, 13, 0, 0, 0, time.UTC), StatusFail},
		{time.Date(2025, 6, 15, 11, 0, 0, 0, time.UTC), StatusFail}, // Sunday
	} {
		sig := goodSignals()
		sig.Now = c.t
		got := b.Evaluate(&sig)
		if len(got) != 1 || got[0].Status != c.want {
			t.Errorf("%s: %+v", c.t, got)
		}
		if c.want == StatusFail && got[0].Expected != "mon,tue,wed,thu,fri 08:00-18:00 Europe/Berlin; sat 10:00-12:00 UTC" {
			t.Errorf("expected %q", got[0].Expected)
		}
	}
}
