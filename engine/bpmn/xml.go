package bpmn

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// Namespaces the reader knows; elements of any other namespace (DI, modeler, camunda) are ignored.
const (
	nsBPMN  = "http://www.omg.org/spec/BPMN/20100524/MODEL"
	nsZeebe = "http://camunda.org/schema/zeebe/1.0"
)

// Limits against hostile input.
const (
	maxResourceSize = 4 << 20 // bytes
	maxDepth        = 200     // element nesting
)

// node is one XML element: its resolved name, its unqualified attributes, its child elements
// and its own character data.
type node struct {
	space, local string
	attrs        map[string]string
	children     []*node
	text         []byte
}

// attr returns the unqualified attribute name, or "".
func (n *node) attr(name string) string { return n.attrs[name] }

// hasAttr reports whether the unqualified attribute name is present.
func (n *node) hasAttr(name string) bool {
	_, ok := n.attrs[name]
	return ok
}

// isBPMN reports whether n is the BPMN model element local.
func (n *node) isBPMN(local string) bool { return n.space == nsBPMN && n.local == local }

// bpmnChildren returns the BPMN model children named local, document order.
func (n *node) bpmnChildren(local string) []*node {
	var out []*node
	for _, c := range n.children {
		if c.isBPMN(local) {
			out = append(out, c)
		}
	}
	return out
}

// extensions returns the zeebe:<local> elements inside n's bpmn:extensionElements.
func (n *node) extensions(local string) []*node {
	var out []*node
	for _, ext := range n.bpmnChildren("extensionElements") {
		for _, c := range ext.children {
			if c.space == nsZeebe && c.local == local {
				out = append(out, c)
			}
		}
	}
	return out
}

// zeebeChildren returns n's zeebe:<local> children, document order.
func (n *node) zeebeChildren(local string) []*node {
	var out []*node
	for _, c := range n.children {
		if c.space == nsZeebe && c.local == local {
			out = append(out, c)
		}
	}
	return out
}

// readTree decodes data into an element tree. It refuses oversized input, deep nesting and
// DOCTYPE declarations (hence entity definitions); the error is the parser's message.
func readTree(data []byte) (*node, error) {
	if len(data) > maxResourceSize {
		return nil, fmt.Errorf("the resource is %d bytes, larger than the limit of %d bytes (4 MiB)", len(data), maxResourceSize)
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var root *node
	var stack []*node
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= maxDepth {
				return nil, fmt.Errorf("XML syntax error on line %d: elements nested deeper than %d levels", inputLine(d), maxDepth)
			}
			n := &node{space: t.Name.Space, local: t.Name.Local, attrs: make(map[string]string, len(t.Attr))}
			for _, a := range t.Attr {
				if a.Name.Space == "" && a.Name.Local != "xmlns" {
					n.attrs[a.Name.Local] = a.Value
				}
			}
			switch {
			case len(stack) > 0:
				top := stack[len(stack)-1]
				top.children = append(top.children, n)
			case root != nil:
				return nil, fmt.Errorf("XML syntax error on line %d: more than one root element", inputLine(d))
			default:
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.text = append(top.text, t...)
			}
		case xml.Directive:
			return nil, fmt.Errorf("XML syntax error on line %d: DOCTYPE declarations and other directives are not allowed", inputLine(d))
		}
	}
	if root == nil {
		return nil, errors.New("XML syntax error: the document has no root element")
	}
	return root, nil
}

func inputLine(d *xml.Decoder) int {
	l, _ := d.InputPos()
	return l
}
