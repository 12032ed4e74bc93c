package main

import (
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/a-knock/knock/internal/demo"
)

func newDemoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Knock a reference server on loopback: refused, knock, open, close",
		Long: `demo starts a knock server (knock serve, listen mode) and a small guarded
service on 127.0.0.1, shows the guarded port refusing, knocks with the real
client code, shows the port open, plays the close sequence and shows it
shut. It needs no root, no configuration and no network, picks free
ports, and takes a second or two.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return demo.Run(cmd.Context(), os.Stdout, os.Getenv("NO_COLOR") == "" && isTerminal(os.Stdout))
		},
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
