package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
)

func testRefsRoundTrip(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	r := as[conversation.Refs](t, s)
	ns := keyFor(t, "ns")
	_, err := r.GetRef(ctx, ns, "missing")
	wantErr(t, "GetRef of an unknown ref", err, conversation.ErrNotFound)
	for _, tc := range []struct{ key, value string }{
		{"thread:1700000000.000100", "slack:T1:C2:1700000000.000100"},
		{"awkward {key} with spaces:and:colons", "value with {braces}"},
		{"empty", ""},
		{"unicode-ключ", strings.Repeat("ü", 100)},
	} {
		if err := r.PutRef(ctx, ns, tc.key, tc.value, 0); err != nil {
			t.Fatalf("PutRef(%q): %v", tc.key, err)
		}
		got, err := r.GetRef(ctx, ns, tc.key)
		if err != nil || got != tc.value {
			t.Fatalf("GetRef(%q) = %q, %v; want %q", tc.key, got, err, tc.value)
		}
	}
	// Replacing a value; namespaces are separate.
	if err := r.PutRef(ctx, ns, "empty", "now set", time.Hour); err != nil {
		t.Fatalf("PutRef replace: %v", err)
	}
	if got, err := r.GetRef(ctx, ns, "empty"); err != nil || got != "now set" {
		t.Fatalf("GetRef after replace = %q, %v; want %q", got, err, "now set")
	}
	_, err = r.GetRef(ctx, ns+"-other", "empty")
	wantErr(t, "GetRef in another namespace", err, conversation.ErrNotFound)
}

func testRefsExpire(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	r := as[conversation.Refs](t, s)
	ns := keyFor(t, "ns")
	if err := r.PutRef(ctx, ns, "short", "v", 50*time.Millisecond); err != nil {
		t.Fatalf("PutRef: %v", err)
	}
	if err := r.PutRef(ctx, ns, "long", "v", time.Hour); err != nil {
		t.Fatalf("PutRef: %v", err)
	}
	time.Sleep(120 * time.Millisecond)
	_, err := r.GetRef(ctx, ns, "short")
	wantErr(t, "GetRef after the ttl", err, conversation.ErrNotFound)
	if got, err := r.GetRef(ctx, ns, "long"); err != nil || got != "v" {
		t.Fatalf("GetRef of the unexpired ref = %q, %v; want %q", got, err, "v")
	}
}

func testRefsInvalid(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	r := as[conversation.Refs](t, s)
	for _, tc := range []struct {
		name         string
		ns, key, val string
		ttl          time.Duration
	}{
		{"empty namespace", "", "k", "v", 0},
		{"empty key", "ns", "", "v", 0},
		{"value too long", "ns", "k", strings.Repeat("x", conversation.MaxRefValueLen+1), 0},
		{"invalid UTF-8", "ns", "k", "\xff", 0},
		{"negative ttl", "ns", "k", "v", -time.Second},
		{"ttl too long", "ns", "k", "v", conversation.MaxRefTTL + time.Hour},
	} {
		err := r.PutRef(ctx, tc.ns, tc.key, tc.val, tc.ttl)
		wantCode(t, "PutRef with "+tc.name, err, conversation.Invalid)
	}
	_, err := r.GetRef(ctx, "", "k")
	wantCode(t, "GetRef with an empty namespace", err, conversation.Invalid)
}

func testRenewLease(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	rn := as[conversation.LeaseRenewer](t, s)
	key := keyFor(t, "leader")
	l := acquire(t, s, key, time.Second)
	for range 3 {
		time.Sleep(400 * time.Millisecond)
		var err error
		l, err = rn.Renew(ctx, l, time.Second)
		if err != nil {
			t.Fatalf("Renew of a held lease: %v", err)
		}
	}
	// 1.2 s after Acquire with a 1 s ttl: only the renewals keep it.
	_, err := s.Acquire(ctx, key, time.Second)
	wantErr(t, "Acquire of a renewed lease", err, conversation.ErrLeaseHeld)
	if err := s.Release(ctx, l); err != nil {
		t.Fatalf("Release: %v", err)
	}
	_, err = rn.Renew(ctx, l, time.Second)
	wantErr(t, "Renew of a released lease", err, conversation.ErrLeaseLost)

	// An expired lease taken over by another holder cannot be renewed.
	old := acquire(t, s, key, 30*time.Millisecond)
	time.Sleep(60 * time.Millisecond)
	acquire(t, s, key, time.Second)
	_, err = rn.Renew(ctx, old, time.Second)
	wantErr(t, "Renew of a lease taken over", err, conversation.ErrLeaseLost)
	_, err = rn.Renew(ctx, conversation.Lease{Key: key, Token: old.Token}, 0)
	wantCode(t, "Renew with a zero ttl", err, conversation.Invalid)
}

func testRenewOutboxClaim(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	oc := as[conversation.OutboxClaimer](t, s)
	rn := as[conversation.OutboxClaimRenewer](t, s)
	key := keyFor(t, "c")
	commitOutbound(t, s, newConv(key), "o-1")
	c := claimOutbox(t, oc, key, time.Second, 10)
	for range 3 {
		time.Sleep(400 * time.Millisecond)
		var err error
		if c, err = rn.RenewOutboxClaim(ctx, c, time.Second); err != nil {
			t.Fatalf("RenewOutboxClaim of a held claim: %v", err)
		}
	}
	// 1.2 s after a claim for 1 s: only the renewals keep it.
	_, err := oc.ClaimOutbox(ctx, key, time.Second, 10)
	wantErr(t, "ClaimOutbox of a renewed claim", err, conversation.ErrLeaseHeld)
	finishOutbox(t, oc, c, "o-1")
	_, err = rn.RenewOutboxClaim(ctx, c, time.Second)
	wantErr(t, "RenewOutboxClaim of a finished claim", err, conversation.ErrLeaseLost)
	_, err = rn.RenewOutboxClaim(ctx, c, 0)
	wantCode(t, "RenewOutboxClaim with a zero ttl", err, conversation.Invalid)
}
