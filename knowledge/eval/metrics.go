package eval

// Prediction is the outcome of one intent query: the wanted intent ("" for
// an out-of-scope query) and the one given ("" when the query was
// declined).
type Prediction struct {
	Want string
	Got  string
}

// Accuracy is the share of predictions whose Got equals Want; 0 for none.
func Accuracy(ps []Prediction) float64 {
	right := 0
	for _, p := range ps {
		if p.Got == p.Want {
			right++
		}
	}
	return share(right, len(ps))
}

// InScopeAccuracy is the share of in-scope predictions (Want != "")
// answered with the wanted intent; a declined in-scope query counts as
// wrong. 0 without in-scope predictions.
func InScopeAccuracy(ps []Prediction) float64 {
	right, n := 0, 0
	for _, p := range ps {
		if p.Want == "" {
			continue
		}
		n++
		if p.Got == p.Want {
			right++
		}
	}
	return share(right, n)
}

// OOSRecall is the share of out-of-scope predictions (Want == "") that were
// declined (Got == ""). 0 without out-of-scope predictions.
func OOSRecall(ps []Prediction) float64 {
	declined, n := 0, 0
	for _, p := range ps {
		if p.Want != "" {
			continue
		}
		n++
		if p.Got == "" {
			declined++
		}
	}
	return share(declined, n)
}

// RecallAtK is the share of relevant ids among the first k of ranked; 0
// when nothing is relevant.
func RecallAtK(ranked []string, relevant map[string]bool, k int) float64 {
	if len(relevant) == 0 {
		return 0
	}
	found := 0
	seen := map[string]bool{}
	for i, id := range ranked {
		if i >= k {
			break
		}
		if relevant[id] && !seen[id] {
			found++
			seen[id] = true
		}
	}
	return share(found, len(relevant))
}

// MeanRecallAtK averages RecallAtK over queries: rankings[i] is ranked for
// the query whose relevant ids are relevant[i]. Queries without relevant
// ids are left out. 0 without queries.
func MeanRecallAtK(rankings [][]string, relevant []map[string]bool, k int) float64 {
	var sum float64
	n := 0
	for i, r := range rankings {
		if i >= len(relevant) || len(relevant[i]) == 0 {
			continue
		}
		sum += RecallAtK(r, relevant[i], k)
		n++
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

func share(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}
