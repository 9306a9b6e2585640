package engine

import (
	"context"
	"fmt"
	"math"
	"time"
)

// spending is what has been spent against the caps.
type spending struct {
	today, month, userToday float64
}

// spent sums the provider's reported cost: today (UTC) overall and for
// user, and this month overall.
func (e *Engine) spent(ctx context.Context, user UserID, now time.Time) (spending, error) {
	var s spending
	now = now.UTC()
	for d := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC); !d.After(now); d = d.AddDate(0, 0, 1) {
		u, err := e.store.UsageOn(ctx, d.Format(time.DateOnly), "")
		if err != nil {
			return s, fmt.Errorf("usage of %s: %w", d.Format(time.DateOnly), err)
		}
		s.month += u.Cost
		if d.Day() == now.Day() {
			s.today = u.Cost
		}
	}
	if e.opts.Limits.PerUserDailyCostUSD > 0 {
		u, err := e.store.UsageOn(ctx, now.Format(time.DateOnly), user)
		if err != nil {
			return s, fmt.Errorf("usage of %s: %w", user, err)
		}
		s.userToday = u.Cost
	}
	return s, nil
}

// capReached returns the refusal for a turn when a cost cap is reached, or
// "" when the turn may go to the model. It runs before every request; a
// failure to read the usage refuses too, since the caps exist to stop
// surprise bills.
func (e *Engine) capReached(ctx context.Context, user UserID) string {
	l := e.opts.Limits
	if l.DailyCostUSD <= 0 && l.MonthlyCostUSD <= 0 && l.PerUserDailyCostUSD <= 0 {
		return ""
	}
	now := time.Now().UTC()
	s, err := e.spent(ctx, user, now)
	if err != nil {
		e.log.Error("reading usage for the cost caps", "err", err)
		return "The bot could not check its spending caps, so it did not call the model. Try again in a moment."
	}
	tomorrow := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	nextMonth := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	switch {
	case l.MonthlyCostUSD > 0 && s.month >= l.MonthlyCostUSD:
		return fmt.Sprintf("The monthly spending cap (%s, limits.monthly_cost_usd) is reached: %s spent this month. It resets on %s (in %s).",
			usd(l.MonthlyCostUSD), usd(s.month), nextMonth.Format("2 January 15:04 UTC"), until(now, nextMonth))
	case l.DailyCostUSD > 0 && s.today >= l.DailyCostUSD:
		return fmt.Sprintf("The daily spending cap (%s, limits.daily_cost_usd) is reached: %s spent today. It resets at midnight UTC (in %s).",
			usd(l.DailyCostUSD), usd(s.today), until(now, tomorrow))
	case l.PerUserDailyCostUSD > 0 && s.userToday >= l.PerUserDailyCostUSD:
		return fmt.Sprintf("Your daily spending cap (%s, limits.per_user_daily_cost_usd) is reached: %s spent today. It resets at midnight UTC (in %s).",
			usd(l.PerUserDailyCostUSD), usd(s.userToday), until(now, tomorrow))
	}
	return ""
}

// usd formats dollars with cents, and with four decimals below a cent, so
// that a personal bot's fractions of a cent do not all read $0.00.
func usd(v float64) string {
	if v != 0 && math.Abs(v) < 0.01 {
		return fmt.Sprintf("$%.4f", v)
	}
	return fmt.Sprintf("$%.2f", v)
}

func until(now, t time.Time) string {
	d := t.Sub(now).Round(time.Minute)
	if d >= time.Hour*48 {
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	}
	return d.String()
}

// capsText is the spending against the caps, for /status; "" when no cap
// is set.
func (e *Engine) capsText(ctx context.Context) string {
	l := e.opts.Limits
	if l.DailyCostUSD <= 0 && l.MonthlyCostUSD <= 0 {
		return ""
	}
	s, err := e.spent(ctx, "", time.Now())
	if err != nil {
		return "Spending: unknown"
	}
	out := "Spending:"
	if l.DailyCostUSD > 0 {
		out += fmt.Sprintf(" today %s of %s", usd(s.today), usd(l.DailyCostUSD))
	}
	if l.MonthlyCostUSD > 0 {
		out += fmt.Sprintf(" · month %s of %s", usd(s.month), usd(l.MonthlyCostUSD))
	}
	return out
}
