package depmod

import (
	"encoding/binary"
	"fmt"
)

// The .bin files are kmod's "index" format: a trie whose nodes carry an
// optional compressed prefix, an optional child table and an optional list
// of prioritised values. libkmod reads them with binary search, so modprobe
// never parses the text files. The layout below follows kmod's
// libkmod/libkmod-index.c and tools/depmod.c (facts, not code).
const (
	indexMagic   = 0xB007F457
	indexVersion = 0x00020001 // major 2, minor 1

	nodePrefix = 0x80000000
	nodeValues = 0x40000000
	nodeChilds = 0x20000000

	childMax = 128 // keys and values are 7-bit ASCII
)

type indexValue struct {
	priority uint32
	value    string
}

type indexNode struct {
	prefix      string
	values      []indexValue
	first, last int // child range; first == childMax when there are none
	children    [childMax]*indexNode

	size, total uint32 // pre-order layout: own bytes, own + descendants
}

func newIndexNode(prefix string) *indexNode {
	return &indexNode{prefix: prefix, first: childMax}
}

// trie is an in-memory kmod index.
type trie struct{ root *indexNode }

func newTrie() *trie { return &trie{root: newIndexNode("")} }

func checkASCII(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] >= childMax || s[i] == 0 {
			return fmt.Errorf("byte 0x%02x in %q: kmod indexes hold only 7-bit ASCII without NUL", s[i], s)
		}
	}
	return nil
}

// addValue inserts v before the first value whose priority is not lower, so
// among equal priorities the newest comes first, exactly as depmod does.
func (n *indexNode) addValue(value string, priority uint32) {
	i := 0
	for i < len(n.values) && n.values[i].priority < priority {
		i++
	}
	n.values = append(n.values, indexValue{})
	copy(n.values[i+1:], n.values[i:])
	n.values[i] = indexValue{priority: priority, value: value}
}

// insert adds value under key, splitting prefixes the way depmod's
// index_insert does so the node shapes (and thus the bytes) agree.
func (t *trie) insert(key, value string, priority uint32) error {
	if err := checkASCII(key); err != nil {
		return err
	}
	if err := checkASCII(value); err != nil {
		return err
	}
	node := t.root
	i := 0
	for {
		j := 0
		for ; j < len(node.prefix); j++ {
			ch := node.prefix[j]
			if i+j >= len(key) || key[i+j] != ch {
				// The node keeps prefix[:j]; a new child takes over
				// everything else, hanging at prefix[j].
				child := *node
				child.prefix = node.prefix[j+1:]
				*node = indexNode{prefix: node.prefix[:j], first: int(ch), last: int(ch)}
				node.children[ch] = &child
				break
			}
		}
		i += j
		if i == len(key) {
			node.addValue(value, priority)
			return nil
		}
		ch := int(key[i])
		if node.children[ch] == nil {
			if ch < node.first {
				node.first = ch
			}
			if ch > node.last {
				node.last = ch
			}
			child := newIndexNode(key[i+1:])
			child.addValue(value, priority)
			node.children[ch] = child
			return nil
		}
		node = node.children[ch]
		i++
	}
}

func (n *indexNode) hasChildren() bool { return n.first < childMax }

func (n *indexNode) mask() uint32 {
	var m uint32
	if n.hasChildren() {
		m |= nodeChilds
	}
	if n.prefix != "" {
		m |= nodePrefix
	}
	if len(n.values) > 0 {
		m |= nodeValues
	}
	return m
}

// writeNodeBody appends the node's own record: prefix, child table, values.
func (n *indexNode) writeNodeBody(b []byte, childOffs []uint32) []byte {
	if n.prefix != "" {
		b = append(b, n.prefix...)
		b = append(b, 0)
	}
	if n.hasChildren() {
		b = append(b, byte(n.first), byte(n.last))
		for _, o := range childOffs {
			b = binary.BigEndian.AppendUint32(b, o)
		}
	}
	if len(n.values) > 0 {
		b = binary.BigEndian.AppendUint32(b, uint32(len(n.values)))
		for _, v := range n.values {
			b = binary.BigEndian.AppendUint32(b, v.priority)
			b = append(b, v.value...)
			b = append(b, 0)
		}
	}
	return b
}

// Layout is the order in which an index's nodes are laid out in the file.
// libkmod reads both; the bytes differ.
type Layout int

const (
	// PreOrder is what kmod 34 (Debian 13) writes: each node before its
	// children, the root right after the header.
	PreOrder Layout = iota
	// PostOrder is what kmod 30 to 33 (Debian 12) write: children first,
	// the root last.
	PostOrder
)

func (t *trie) bytes(layout Layout) []byte {
	b := make([]byte, 12, 64<<10)
	binary.BigEndian.PutUint32(b[0:], indexMagic)
	binary.BigEndian.PutUint32(b[4:], indexVersion)
	var root uint32
	if layout == PostOrder {
		b, root = writePostOrder(t.root, b)
	} else {
		calcSize(t.root)
		root = 12 | t.root.mask()
		b = writePreOrder(t.root, b, 12)
	}
	binary.BigEndian.PutUint32(b[8:], root)
	return b
}

func writePostOrder(n *indexNode, b []byte) ([]byte, uint32) {
	var offs []uint32
	if n.hasChildren() {
		offs = make([]uint32, n.last-n.first+1)
		for i := range offs {
			if c := n.children[n.first+i]; c != nil {
				b, offs[i] = writePostOrder(c, b)
			}
		}
	}
	off := uint32(len(b)) | n.mask()
	return n.writeNodeBody(b, offs), off
}

func calcSize(n *indexNode) uint32 {
	n.size, n.total = 0, 0
	if n.hasChildren() {
		n.size += 2 + 4*uint32(n.last-n.first+1)
		for i := n.first; i <= n.last; i++ {
			if c := n.children[i]; c != nil {
				n.total += calcSize(c)
			}
		}
	}
	if n.prefix != "" {
		n.size += uint32(len(n.prefix)) + 1
	}
	if len(n.values) > 0 {
		n.size += 4
		for _, v := range n.values {
			n.size += 4 + uint32(len(v.value)) + 1
		}
	}
	n.total += n.size
	return n.total
}

func writePreOrder(n *indexNode, b []byte, off uint32) []byte {
	var offs []uint32
	if n.hasChildren() {
		offs = make([]uint32, n.last-n.first+1)
		next := off + n.size
		for i := range offs {
			if c := n.children[n.first+i]; c != nil {
				offs[i] = next | c.mask()
				next += c.total
			}
		}
	}
	b = n.writeNodeBody(b, offs)
	for i := range offs {
		if c := n.children[n.first+i]; c != nil {
			b = writePreOrder(c, b, uint32(len(b)))
		}
	}
	return b
}
