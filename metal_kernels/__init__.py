"""Tree-masked cascade attention: a Metal kernel and the pure-MLX reference it mirrors."""

from .reference import pack_mask, tree_attention_reference

tree_attention = tree_attention_reference

__all__ = ["tree_attention", "tree_attention_reference", "pack_mask"]
