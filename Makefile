# Warden's tasks. `make run` and `make test` are the two the README promises.
SHELL := /bin/bash
GO ?= go
TAGS := migrated_fynedo
export LANG ?= C.UTF-8

.PHONY: run test build vet bench clean

build:
	$(GO) build -tags $(TAGS) -o warden .

run: build
	./warden

vet:
	$(GO) vet -tags $(TAGS) ./...

test: vet
	$(GO) test -race -count=1 ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -f warden
