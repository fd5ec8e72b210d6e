package agentconsole

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tier0/tier0/adapters/httpjson"
	"github.com/tier0/tier0/conversation/analytics"
)

// Analytics reports the help desk's figures: *analytics.Recorder.
type Analytics interface {
	// Report summarises the last days days, today (UTC) included.
	// Errors: Invalid, Unavailable.
	Report(ctx context.Context, days int) (analytics.Report, error)
}

// Analytics ranges the API accepts, in days.
const (
	DefaultAnalyticsDays = 7
	MaxAnalyticsDays     = 366
)

// analyticsTimeout bounds one report (a range of days read from the store).
const analyticsTimeout = 15 * time.Second

// analyticsReport serves GET /console/api/analytics?days=N: the Report
// as JSON, 404 "not_configured" without an analytics source.
func (c *Console) analyticsReport(w http.ResponseWriter, r *http.Request, s *session, _ string) error {
	if c.stats == nil {
		return &apiError{Status: http.StatusNotFound, Code: "not_configured", Msg: "analytics is not configured on this server"}
	}
	days := DefaultAnalyticsDays
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxAnalyticsDays {
			return &apiError{Status: http.StatusBadRequest, Code: "invalid", Msg: fmt.Sprintf("days must be a whole number within 1..%d", MaxAnalyticsDays)}
		}
		days = n
	}
	ctx, cancel := context.WithTimeout(r.Context(), analyticsTimeout)
	defer cancel()
	rep, err := c.stats.Report(ctx, days)
	if err != nil {
		return fmt.Errorf("analytics report of %d days for %s: %w", days, s.account.Username, err)
	}
	httpjson.Write(w, http.StatusOK, rep)
	return nil
}
