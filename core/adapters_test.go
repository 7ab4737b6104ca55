package core_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The adapters around core. Each is a package and the packages under it
// (core/store/postgres is the store's; core/cluster/etcdtest the cluster's).
var adapters = []string{"warden/core/store", "warden/core/whatsapp", "warden/core/cluster", "warden/core/metrics", "warden/core/api", "warden/ui"}

// adapterOf returns the adapter pkg belongs to, or "".
func adapterOf(pkg string) string {
	for _, a := range adapters {
		if pkg == a || strings.HasPrefix(pkg, a+"/") {
			return a
		}
	}
	return ""
}

// listedPackage is what go list says of one of the module's packages.
type listedPackage struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// TestAdaptersImportNoOtherAdapter checks, on the import graph the go
// command reads, that no adapter imports another, directly or through other
// packages, in its code or its tests: the store checks a settings string
// with core's check, not core/cluster's, and the window sees a Controller,
// not etcd (STYLE.md, "An adapter never imports another adapter").
func TestAdaptersImportNoOtherAdapter(t *testing.T) {
	cmd := exec.Command("go", "list", "-tags", "migrated_fynedo", "-json=ImportPath,Imports,TestImports,XTestImports", "warden/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	pkgs := map[string]listedPackage{}
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list's output: %v", err)
		}
		pkgs[p.ImportPath] = p
	}
	for _, a := range adapters {
		if _, ok := pkgs[a]; !ok {
			t.Fatalf("go list does not list %s: is the list of adapters out of date?", a)
		}
	}

	// reach returns, for each adapter other than own that from reaches
	// through the module's packages, one shortest way there (from first).
	reach := func(from, own string) [][]string {
		var found [][]string
		prev := map[string]string{from: ""}
		for queue := []string{from}; len(queue) > 0; queue = queue[1:] {
			p := queue[0]
			if a := adapterOf(p); a != "" && a != own {
				var chain []string
				for ; p != ""; p = prev[p] {
					chain = append(chain, p)
				}
				slices.Reverse(chain)
				found = append(found, chain)
				continue
			}
			for _, next := range pkgs[p].Imports {
				if _, seen := prev[next]; !seen && strings.HasPrefix(next, "warden/") {
					prev[next] = p
					queue = append(queue, next)
				}
			}
		}
		return found
	}

	for _, name := range slices.Sorted(maps.Keys(pkgs)) {
		p, own := pkgs[name], adapterOf(name)
		if own == "" {
			continue
		}
		for _, chain := range reach(name, own) {
			t.Errorf("%s imports the adapter %s (%s): an adapter never imports another; put the check or the type with its owner in core, and call it from both", name, adapterOf(chain[len(chain)-1]), strings.Join(chain, " → "))
		}
		for _, imp := range slices.Concat(p.TestImports, p.XTestImports) {
			if !strings.HasPrefix(imp, "warden/") || adapterOf(imp) == own || slices.Contains(p.Imports, imp) {
				continue // not the module's, the adapter's own, or checked above
			}
			for _, chain := range reach(imp, own) {
				t.Errorf("the tests of %s import the adapter %s (%s): an adapter's tests use core's fakes (core/coretest, core/fakewa, core/storesuite), not another adapter", name, adapterOf(chain[len(chain)-1]), strings.Join(chain, " → "))
			}
		}
	}
}
