package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// runPasswd reads a password (the first line of stdin) and prints its
// bcrypt hash, for console.accounts[].password_hash.
func runPasswd(stdin io.Reader, stdout io.Writer) error {
	line, err := bufio.NewReader(io.LimitReader(stdin, 1024)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("passwd: read password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	switch {
	case len(pw) < 8:
		return errors.New("passwd: the password must have at least 8 characters")
	case len(pw) > 72:
		return errors.New("passwd: bcrypt uses at most 72 bytes of a password")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("passwd: %w", err)
	}
	_, err = fmt.Fprintln(stdout, string(hash))
	return err
}
