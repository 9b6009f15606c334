package bpmn

import "strings"

// Problem is one deploy-time validation failure: the id of the element at fault (or its element
// type when it has no id) and Zeebe's message.
type Problem struct {
	Element string
	Message string
}

// ValidationError lists every validation failure of a resource. Its text is the <detail> of a
// deployment rejection, as Zeebe formats it: per element, "- Element: <id>\n" then one
// "    - ERROR: <message>\n" per failure.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var order []string
	byElement := map[string][]string{}
	for _, p := range e.Problems {
		if _, ok := byElement[p.Element]; !ok {
			order = append(order, p.Element)
		}
		byElement[p.Element] = append(byElement[p.Element], p.Message)
	}
	var b strings.Builder
	for _, el := range order {
		b.WriteString("- Element: " + el + "\n")
		for _, m := range byElement[el] {
			b.WriteString("    - ERROR: " + m + "\n")
		}
	}
	return b.String()
}

// problems collects validation failures once each, in the order found.
type problems struct {
	list []Problem
	seen map[Problem]bool
}

func (ps *problems) add(element, message string) {
	p := Problem{Element: element, Message: message}
	if ps.seen == nil {
		ps.seen = map[Problem]bool{}
	}
	if ps.seen[p] {
		return
	}
	ps.seen[p] = true
	ps.list = append(ps.list, p)
}
