package cluster

// Crash stops the node as a kill would: no release, no revoke.
func (n *Node) Crash() { n.crash() }
