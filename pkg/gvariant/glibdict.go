package gvariant

import "github.com/debatom/debatom/internal/ghash"

// GLibDictOrder returns keys (distinct, in insertion order) in the order
// GLib's g_variant_dict_end emits them after g_variant_dict_insert was
// called with each key in turn. libostree builds commit metadata in a
// GVariantDict, so reproducing `ostree commit` checksums needs this order:
// the iteration order of a GHashTable keyed by g_str_hash.
func GLibDictOrder(keys []string) []string {
	h := ghash.New()
	for _, k := range keys {
		h.Insert(k)
	}
	return h.Order()
}
