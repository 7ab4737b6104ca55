# Warden's tasks. The README promises two: `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
# FyneApp.toml opts into fyne.Do threading; plain go builds need the same tag.
TAGS := migrated_fynedo
export LANG := en_US.UTF-8
# Fyne's tests write a font cache; keep it out of the user's home.
export XDG_CACHE_HOME ?= $(CURDIR)/.cache

# Debian packages: a C compiler and the GL/X11 headers Fyne builds against,
# Xvfb, ImageMagick and xdotool for the window test, and PostgreSQL, whose
# throwaway servers the fleet tests start (core/pgserver).
DEB_PACKAGES := gcc libc6-dev pkg-config libgl-dev libxcursor-dev libxrandr-dev \
	libxinerama-dev libxi-dev libxxf86vm-dev libegl-dev libwayland-dev libxkbcommon-dev \
	xvfb xauth imagemagick xdotool postgresql

# Packages that drive real whatsmeow clients run without -race: whatsmeow has
# data races of its own (see the README). Everything else with tests runs
# with -race. Only packages with tests: go test still builds one without, and
# building the main package for the race detector would compile whatsmeow and
# its SQLite a second time for nothing (vet and app's tests build it anyway).
NORACE_PKGS := ./core/whatsapp ./core/fakewa ./app
RACE_PKGS = $(shell $(GO) list -tags $(TAGS) -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./... | grep -v -x -e warden/core/whatsapp -e warden/core/fakewa -e warden/app)

.PHONY: all deps build run demo test vet bench soak soak-cluster soak-window clean

all: build

# deps installs only what is missing, so it is quick when nothing is.
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing:" $$missing; \
		sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	$(GO) mod download

build: deps
	$(GO) build -tags $(TAGS) -o warden .

run: build
	./warden

demo: build
	./warden --demo

vet: deps
	$(GO) vet -tags $(TAGS) ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

test: vet
	$(GO) test -tags $(TAGS) -race -count=1 $(RACE_PKGS)
	$(GO) test -tags $(TAGS) -count=1 $(NORACE_PKGS)

bench: deps
	$(GO) test -tags $(TAGS) -run '^$$' -bench . -benchmem ./core/... ./ui/...

# soak runs the adapter's long soak: 20 accounts, random faults, 2 minutes.
soak: deps
	WARDEN_SOAK=1 $(GO) test -tags $(TAGS) -count=1 -run Soak -v ./core/whatsapp/

# soak-cluster runs the fleet's soak: 3 node processes over 60 accounts, nodes
# killed, stopped and cut off from etcd at random, faults all along, 5 minutes
# (WARDEN_SOAK_DURATION=10m for longer); it prints the takeover figures.
soak-cluster: deps
	WARDEN_SOAK_CLUSTER=1 $(GO) test -tags $(TAGS) -count=1 -timeout 60m -run '^TestFleetSoak$$' -v ./app/

# soak-window measures the idle window against a bare Fyne app, each under
# its own Xvfb: resident memory, CPU and garbage a second (see BENCHMARKS.md).
# WARDEN_SOAK_WINDOW_PROFILES=DIR also writes heap and CPU profiles there.
soak-window: deps
	WARDEN_SOAK_WINDOW=1 $(GO) test -tags $(TAGS) -count=1 -timeout 20m -run '^TestWindowSoak$$' -v ./app/

clean:
	rm -rf warden .cache ui/testdata/failed ui/testdata/screens
