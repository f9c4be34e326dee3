"""Rebuild a Hugging Face fast tokenizer from GGUF metadata (torch-free, `tokenizers` only).

Two GGUF tokenizer models are handled:
- `gpt2`: byte-level BPE from `tokenizer.ggml.tokens` + `tokenizer.ggml.merges`, with the
  pre-tokenizer named by `tokenizer.ggml.pre` (gpt-2 default, smollm/starcoder digit splitting,
  llama-bpe, qwen2);
- `llama`: SentencePiece-style BPE with byte fallback; merges are derived from the vocabulary
  and `tokenizer.ggml.scores` (a merge (a, b) ranks by the score of the token a+b).
CONTROL tokens become special added tokens; the chat template, BOS/EOS/UNK/PAD come from metadata.
"""

from __future__ import annotations

from dataclasses import dataclass

import mlx.core as mx

from .errors import D2SDError

from . import log

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6

# Split patterns of the byte-level pre-tokenizers (the well-known GPT-4-style regexes).
_LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_DIGIT_PRE = ("smollm", "starcoder", "refact")
_LLAMA3_PRE = ("llama-bpe", "llama3", "llama-v3", "smaug-bpe", "dbrx")
_DEFAULT_PRE = ("gpt-2", "gpt2", "default", None)


@dataclass
class BuiltTokenizer:
    tokenizer: object  # tokenizers.Tokenizer
    bos: str | None
    eos: str | None
    unk: str | None
    pad: str | None
    chat_template: str | None


def _get(meta, key, default=None):
    v = meta.get(key, default)
    if isinstance(v, mx.array):
        v = v.item() if v.ndim == 0 else v.tolist()
    return v


def _byte_level_pre(pre: str | None, path):
    from tokenizers import Regex, pre_tokenizers

    if pre in _DIGIT_PRE:
        return pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ])
    if pre in _LLAMA3_PRE or pre == "qwen2":
        pattern = _QWEN2_SPLIT if pre == "qwen2" else _LLAMA3_SPLIT
        return pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    if pre not in _DEFAULT_PRE:
        log.note(f"{path}: tokenizer.ggml.pre={pre!r} is not known here; using the GPT-2 pre-tokenizer")
    return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)


def spm_merges(tokens: list, scores: list, types: list) -> list:
    """BPE merges implied by a SentencePiece BPE vocabulary: (a, b) for every token a+b whose
    halves are both tokens, ranked by the merged token's score (highest first)."""
    vocab = {t: i for i, t in enumerate(tokens) if types[i] in (NORMAL, USER_DEFINED)}
    found = []
    for tok, i in vocab.items():
        for cut in range(1, len(tok)):
            a, b = tok[:cut], tok[cut:]
            if a in vocab and b in vocab:
                found.append((-scores[i], vocab[a], vocab[b], a, b))
    found.sort()
    return [(a, b) for _, _, _, a, b in found]


def build_tokenizer(meta: dict, path) -> BuiltTokenizer:
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, processors

    kind = _get(meta, "tokenizer.ggml.model")
    tokens = _get(meta, "tokenizer.ggml.tokens")
    if kind is None or tokens is None:
        raise D2SDError(f"{path}: GGUF metadata has no tokenizer (tokenizer.ggml.model / tokenizer.ggml.tokens)")
    n = len(tokens)
    types = _get(meta, "tokenizer.ggml.token_type") or [NORMAL] * n
    if len(types) != n:
        raise D2SDError(f"{path}: tokenizer.ggml.token_type has {len(types)} entries for {n} tokens")

    def tok_at(key):
        i = _get(meta, key)
        if i is None:
            return None
        if not 0 <= int(i) < n:
            raise D2SDError(f"{path}: {key}={i} is outside the {n}-token vocabulary")
        return tokens[int(i)]

    bos, eos = tok_at("tokenizer.ggml.bos_token_id"), tok_at("tokenizer.ggml.eos_token_id")
    unk, pad = tok_at("tokenizer.ggml.unknown_token_id"), tok_at("tokenizer.ggml.padding_token_id")

    if kind == "gpt2":
        merges = _get(meta, "tokenizer.ggml.merges") or []
        pairs = []
        for m in merges:
            a, sep, b = m.partition(" ")
            if not sep:
                raise D2SDError(f"{path}: malformed entry in tokenizer.ggml.merges: {m!r}")
            pairs.append((a, b))
        pre = _get(meta, "tokenizer.ggml.pre")
        vocab = {t: i for i, t in enumerate(tokens)}
        tok = Tokenizer(models.BPE(vocab=vocab, merges=pairs, ignore_merges=pre in _LLAMA3_PRE))
        tok.pre_tokenizer = _byte_level_pre(pre, path)
        tok.decoder = decoders.ByteLevel()
        add_bos_default = False
    elif kind == "llama":
        scores = _get(meta, "tokenizer.ggml.scores")
        if scores is None or len(scores) != n:
            raise D2SDError(f"{path}: a 'llama' (SentencePiece) GGUF tokenizer needs tokenizer.ggml.scores for every token")
        vocab = {t: i for i, t in enumerate(tokens)}
        tok = Tokenizer(models.BPE(vocab=vocab, merges=spm_merges(tokens, scores, types), unk_token=unk,
                                   fuse_unk=True, byte_fallback=True))
        add_space = bool(_get(meta, "tokenizer.ggml.add_space_prefix", True))
        norm = [normalizers.Replace(" ", "\u2581")]
        if add_space:
            norm.insert(0, normalizers.Prepend("\u2581"))
        tok.normalizer = normalizers.Sequence(norm)
        dec = [decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()]
        if add_space:
            dec.append(decoders.Strip(" ", 1, 0))
        tok.decoder = decoders.Sequence(dec)
        add_bos_default = True
    else:
        raise D2SDError(
            f"{path}: tokenizer.ggml.model={kind!r} is not supported (supported: 'gpt2' byte-level BPE, 'llama' SentencePiece)"
        )

    special = [AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty in (CONTROL, UNKNOWN)]
    user = [AddedToken(t, special=False, normalized=False) for t, ty in zip(tokens, types)
            if ty == USER_DEFINED and kind == "gpt2"]
    if special:
        tok.add_special_tokens(special)
    if user:
        tok.add_tokens(user)

    add_bos = bool(_get(meta, "tokenizer.ggml.add_bos_token", add_bos_default))
    add_eos = bool(_get(meta, "tokenizer.ggml.add_eos_token", False))
    if (add_bos and bos) or (add_eos and eos):
        pieces, specials = [], []
        if add_bos and bos:
            pieces.append(f"{bos}:0")
            specials.append((bos, tokens.index(bos)))
        single = " ".join(pieces + ["$A:0"] + ([f"{eos}:0"] if add_eos and eos else []))
        pair = " ".join(pieces + ["$A:0"] + ([f"{eos}:0"] if add_eos and eos else []) + ["$B:1"])
        if add_eos and eos:
            specials.append((eos, tokens.index(eos)))
        tok.post_processor = processors.TemplateProcessing(single=single, pair=pair, special_tokens=specials)
    return BuiltTokenizer(tok, bos, eos, unk, pad, _get(meta, "tokenizer.chat_template"))


def save_tokenizer(built: BuiltTokenizer, out_dir) -> None:
    """tokenizer.json, tokenizer_config.json (+ chat_template.jinja) via PreTrainedTokenizerFast."""
    from transformers import PreTrainedTokenizerFast

    kwargs = {k: v for k, v in (("bos_token", built.bos), ("eos_token", built.eos),
                                ("unk_token", built.unk), ("pad_token", built.pad)) if v is not None}
    fast = PreTrainedTokenizerFast(tokenizer_object=built.tokenizer, chat_template=built.chat_template, **kwargs)
    fast.save_pretrained(str(out_dir))
