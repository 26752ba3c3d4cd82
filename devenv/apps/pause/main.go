// Command pause is the pod sandbox's container for the real node (docs/node.md): what Kubernetes'
// pause image does, in Go. It holds the pod's namespaces open, reaps the zombies of a shared PID
// namespace, and exits 0 on SIGINT or SIGTERM. No registry is reachable here, so the node cannot
// pull the upstream image; scripts/apps.sh packs this one as registry.local:5000/pause.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
