package zeebe

import "testing"

func TestStreamingFor(t *testing.T) {
	cases := []struct {
		setting, version string
		want             bool
	}{
		{"auto", "8.5.8", true}, {"auto", "8.4.0", true}, {"auto", "8.3.12", false}, {"auto", "", false},
		{"auto", "9.0.0", true}, {"true", "8.3.0", true}, {"false", "8.6.0", false},
	}
	for _, c := range cases {
		if got := streamingFor(c.setting, c.version); got != c.want {
			t.Errorf("streamingFor(%q, %q) = %v", c.setting, c.version, got)
		}
	}
}
