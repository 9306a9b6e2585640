package health

import "testing"

func TestTracker_StatesAndOverall(t *testing.T) {
	tr := NewTracker()
	if got := tr.Overall(); got != StateOK {
		t.Fatalf("empty tracker overall = %s, want ok", got)
	}
	tr.Set("provider", StateOK, "")
	tr.Set("console", StateDegraded, "write failed")
	comps := tr.Components()
	if len(comps) != 2 || comps[0].Name != "console" || comps[1].Name != "provider" {
		t.Fatalf("components = %+v, want console and provider sorted", comps)
	}
	if comps[0].LastError != "write failed" {
		t.Errorf("last error = %q", comps[0].LastError)
	}
	if got := tr.Overall(); got != StateDegraded {
		t.Errorf("overall = %s, want degraded", got)
	}
	tr.Set("console", StateOK, "")
	if got := tr.Overall(); got != StateOK {
		t.Errorf("overall after recovery = %s, want ok", got)
	}
	if c := tr.Components()[0]; c.LastError != "" {
		t.Errorf("recovered component keeps error %q", c.LastError)
	}
}
