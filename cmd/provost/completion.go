package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// Shell completion scripts, made from the command table: each completes
// the command path word by word (provost, trail, show), then the flags of
// the command reached after a "-", and leaves the rest (a flag's value, a
// file argument) to the shell's own file completion.

// completionScript is the script for shell (bash, zsh or fish).
func completionScript(shell string, root *command) string {
	switch shell {
	case "bash":
		return bashCompletion(root)
	case "zsh":
		return zshCompletion(root)
	case "fish":
		return fishCompletion(root)
	}
	panic("provost completion: no script for " + shell)
}

// completionCommand is provost completion SHELL: it prints the script
// made from the command table.
func completionCommand(shell string) runFunc {
	return func(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
		fs := newFlagSet("completion " + shell)
		if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
			return code
		}
		if fs.NArg() > 0 {
			fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
			fs.Usage()
			return exitUsage
		}
		if _, err := io.WriteString(stdout, completionScript(shell, commands())); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
			return exitFail
		}
		return exitOK
	}
}

// completionNode is one command as the scripts see it.
type completionNode struct {
	key   string // the path joined with "/": provost/trail/show
	subs  []*command
	flags []flagDoc // --help last
}

// completionNodes lists the visible commands, parents first.
func completionNodes(root *command) []completionNode {
	var nodes []completionNode
	root.walk(false, func(c *command) {
		flags := append(flagDocs(c.flagSet()), helpFlag)
		nodes = append(nodes, completionNode{key: completionKey(c), subs: c.visibleSubs(), flags: flags})
	})
	return nodes
}

func completionKey(c *command) string {
	return strings.Join(append([]string{"provost"}, strings.Fields(c.path)...), "/")
}

// subKeys are the keys of every command but provost itself: the words
// that extend a command path.
func subKeys(nodes []completionNode) []string {
	var keys []string
	for _, n := range nodes[1:] {
		keys = append(keys, n.key)
	}
	return keys
}

// valueFlags are "KEY --flag" for each flag that reads the next word.
func valueFlags(nodes []completionNode) []string {
	var pairs []string
	for _, n := range nodes {
		for _, d := range n.flags {
			if d.takesValue() {
				pairs = append(pairs, n.key+" "+d.dashed())
			}
		}
	}
	return pairs
}

// oneLine is a description on one line, for a completion menu.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// singleQuoted quotes s for a POSIX shell (bash, zsh).
func singleQuoted(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func bashCompletion(root *command) string {
	nodes := completionNodes(root)
	var b strings.Builder
	b.WriteString(`# bash completion for provost, made by 'provost completion bash' from its command table.
# Load it with: source <(provost completion bash)
_provost() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local cmd=provost i
	for ((i = 1; i < COMP_CWORD; i++)); do
		case "$cmd/${COMP_WORDS[i]}" in
		`)
	b.WriteString(strings.Join(subKeys(nodes), " | \\\n\t\t\t"))
	b.WriteString(`)
			cmd=$cmd/${COMP_WORDS[i]} ;;
		esac
	done
	# A flag's value: the shell's file completion (complete -o default).
	case "$cmd $prev" in
	`)
	quoted := valueFlags(nodes)
	for i, p := range quoted {
		quoted[i] = `"` + p + `"`
	}
	b.WriteString(strings.Join(quoted, " | \\\n\t\t"))
	b.WriteString(`)
		return ;;
	esac
	local subs= flags=
	case $cmd in
`)
	for _, n := range nodes {
		var subs, flags []string
		for _, s := range n.subs {
			subs = append(subs, s.name)
		}
		for _, d := range n.flags {
			flags = append(flags, d.dashed())
		}
		fmt.Fprintf(&b, "\t%s) subs=%s flags=%s ;;\n", n.key, singleQuoted(strings.Join(subs, " ")), singleQuoted(strings.Join(flags, " ")))
	}
	b.WriteString(`	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$flags" -- "$cur"))
	else
		COMPREPLY=($(compgen -W "$subs" -- "$cur"))
	fi
}
complete -o default -F _provost provost
`)
	return b.String()
}

func zshCompletion(root *command) string {
	nodes := completionNodes(root)
	var b strings.Builder
	b.WriteString(`#compdef provost
# zsh completion for provost, made by 'provost completion zsh' from its command table.
# Save it as _provost in a directory of $fpath, or load it with: source <(provost completion zsh)
_provost() {
	local cmd=provost i
	for ((i = 2; i < CURRENT; i++)); do
		case "$cmd/${words[i]}" in
		(`)
	b.WriteString(strings.Join(subKeys(nodes), "|"))
	b.WriteString(`) cmd=$cmd/${words[i]} ;;
		esac
	done
	# A flag's value: files.
	case "$cmd ${words[CURRENT-1]}" in
	(`)
	quoted := valueFlags(nodes)
	for i, p := range quoted {
		quoted[i] = `"` + p + `"`
	}
	b.WriteString(strings.Join(quoted, "|"))
	b.WriteString(`) _files; return ;;
	esac
	local -a subs flags
	case $cmd in
`)
	for _, n := range nodes {
		fmt.Fprintf(&b, "\t(%s)\n", n.key)
		var subs, flags []string
		for _, s := range n.subs {
			subs = append(subs, singleQuoted(s.name+":"+oneLine(s.summary)))
		}
		for _, d := range n.flags {
			flags = append(flags, singleQuoted(d.dashed()+":"+oneLine(d.usage)))
		}
		fmt.Fprintf(&b, "\t\tsubs=(%s)\n", strings.Join(subs, " "))
		fmt.Fprintf(&b, "\t\tflags=(%s)\n", strings.Join(flags, " "))
		b.WriteString("\t\t;;\n")
	}
	b.WriteString(`	esac
	if [[ ${words[CURRENT]} == -* ]]; then
		_describe -t options 'provost flag' flags
	elif (( ${#subs} )); then
		_describe -t commands 'provost command' subs
	else
		_files
	fi
}
if [ "$funcstack[1]" = "_provost" ]; then
	_provost "$@"
else
	compdef _provost provost
fi
`)
	return b.String()
}

// fishQuoted quotes s for fish.
func fishQuoted(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func fishCompletion(root *command) string {
	nodes := completionNodes(root)
	var b strings.Builder
	b.WriteString(`# fish completion for provost, made by 'provost completion fish' from its command table.
# Save it as ~/.config/fish/completions/provost.fish.

# __provost_cmd prints the command path typed so far: provost/trail/show.
function __provost_cmd
    set -l cmd provost
    set -l words (commandline -opc)
    set -e words[1]
    for w in $words
        switch "$cmd/$w"
            case `)
	b.WriteString(strings.Join(subKeys(nodes), " "))
	b.WriteString(`
                set cmd "$cmd/$w"
        end
    end
    echo $cmd
end

# __provost_at KEY: is the command path typed so far KEY?
function __provost_at
    test (__provost_cmd) = "$argv[1]"
end

`)
	for _, n := range nodes {
		cond := fishQuoted("__provost_at " + n.key)
		for _, s := range n.subs {
			fmt.Fprintf(&b, "complete -c provost -n %s -f -a %s -d %s\n", cond, fishQuoted(s.name), fishQuoted(oneLine(s.summary)))
		}
		for _, d := range n.flags {
			opt := "-l " + d.name
			switch {
			case d.name == helpFlag.name:
				opt = "-s h -l help"
			case len([]rune(d.name)) == 1:
				opt = "-s " + d.name
			}
			if d.takesValue() {
				opt += " -r"
			}
			fmt.Fprintf(&b, "complete -c provost -n %s %s -d %s\n", cond, opt, fishQuoted(oneLine(d.usage)))
		}
	}
	return b.String()
}
