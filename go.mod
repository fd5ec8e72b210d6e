module github.com/tier0/tier0

go 1.26.0
