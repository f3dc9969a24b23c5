"""CLIP: the text encoders of a model family, turning weighted prompt tokens into CONDITIONING (spec §8.3, §8.9)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch

from runtime import families
from runtime.devices import DeviceResident
from runtime.text import tokens as tok
from runtime.text.embeddings import EmbeddingStore
from runtime.weights.patches import WeightPatch, apply_patches


@dataclass
class ClipSlot:
    """One text encoder: `layer` None = final output after the final norm, else an index into the hidden states."""

    name: str  # "l", "h" or "g"
    model: torch.nn.Module  # transformers CLIPTextModel or CLIPTextModelWithProjection
    pad: int
    layer: int | None
    norm_hidden: bool  # apply the final layer norm to a hidden layer's output

    @property
    def width(self) -> int:
        return self.model.config.hidden_size

    @property
    def num_layers(self) -> int:
        return self.model.config.num_hidden_layers


def make_slots(family: str, models: dict[str, torch.nn.Module]) -> list[ClipSlot]:
    """The slots of family `family`'s text encoders (its declaration gives pad token and layer), in its order;
    the last one gives the pooled output."""
    return [ClipSlot(e.name, models[e.name], e.pad_token, e.layer, e.norm_hidden)
            for e in families.get(family).text_encoders]


class TextEncoder(DeviceResident):
    def __init__(self, slots: list[ClipSlot], family: str, embedding_dirs: list[Path] | None = None):
        self.slots = slots
        self.family = family
        self.embeddings = EmbeddingStore(embedding_dirs or [])
        self.patches: dict[str, tuple[WeightPatch, ...]] = {}
        self.run_device: str | None = None  # "cpu" pins encoding to the CPU (CLIPLoader device input)

    def __repr__(self) -> str:
        return f"TextEncoder(family={self.family!r}, slots={[s.name for s in self.slots]})"

    def _networks(self):
        return [slot.model for slot in self.slots]

    def clone(self) -> "TextEncoder":
        """A wrapper sharing the weights, with its own layer choice and patches."""
        other = copy.copy(self)
        other.slots = [copy.copy(slot) for slot in self.slots]
        other.patches = dict(self.patches)
        return other

    def add_patches(self, slot: str, patches: list[WeightPatch]) -> None:
        """Add weight patches to encoder `slot` of this wrapper only; keys are canonical names (text/clip_keys),
        e.g. `encoder.layers.0.self_attn.q_proj.weight`, whatever the transformers class prefixes them with."""
        model = self._slot(slot).model
        prefix = "text_model." if hasattr(model, "text_model") else ""
        named = [WeightPatch(p.key if p.key == "text_projection.weight" else prefix + p.key.removeprefix("text_model."),
                             p.strength, p.delta) for p in patches]
        self.patches[slot] = self.patches.get(slot, ()) + tuple(named)

    def _slot(self, name: str) -> ClipSlot:
        for slot in self.slots:
            if slot.name == name:
                return slot
        raise KeyError(f"this {self.family} CLIP has no text encoder {name!r} (it has {[s.name for s in self.slots]})")

    def clip_layer(self, index: int) -> None:
        """CLIPSetLastLayer: −1 = last layer, −2 = penultimate; beyond the depth means the final output."""
        for slot in self.slots:
            slot.layer = None if abs(index) > slot.num_layers else index

    def tokenize(self, text: str, **_options) -> dict[str, list[tok.Chunk]]:
        """`{slot: chunks}`, each chunk 77 `(token, weight)` pairs — the shape ComfyUI plugins expect."""
        return {slot.name: tok.tokenize(text, slot.pad, self._lookup(slot)) for slot in self.slots}

    def _lookup(self, slot: ClipSlot):
        return lambda name: self.embeddings.get(name, slot.name, slot.width)

    def encode(self, text: str) -> list:
        cond, pooled = self.encode_from_tokens(self.tokenize(text), return_pooled=True)
        return [[cond, {"pooled_output": pooled}]]

    def encode_from_tokens_scheduled(self, tokens: dict[str, list[tok.Chunk]], **_options) -> list:
        cond, pooled = self.encode_from_tokens(tokens, return_pooled=True)
        return [[cond, {"pooled_output": pooled}]]

    def encode_from_tokens(self, tokens: dict[str, list[tok.Chunk]], return_pooled: bool = True,
                           return_dict: bool = False):
        """cond `[1, 77·k, D]`, or (cond, pooled `[1, P]`), or a dict; shorter encoders get empty chunks."""
        missing = [slot.name for slot in self.slots if slot.name not in tokens]
        if missing:
            raise ValueError(f"tokens lack the text encoder(s) {missing} of this {self.family} CLIP")
        count = max(len(tokens[slot.name]) for slot in self.slots)
        self.load(self.run_device)
        conds, pooled = [], None
        for slot in self.slots:
            chunks = tokens[slot.name]
            chunks = chunks + [tok.empty_chunk(slot.pad)] * (count - len(chunks))
            cond, pooled = self._encode_slot(slot, chunks)
            conds.append(cond)
        cond = torch.cat(conds, dim=-1)
        if return_dict:
            return {"cond": cond, "pooled_output": pooled}
        return (cond, pooled) if return_pooled else cond

    @torch.no_grad()
    def _encode_slot(self, slot: ClipSlot, chunks: list[tok.Chunk]) -> tuple[torch.Tensor, torch.Tensor]:
        weights = torch.tensor([[item[1] for item in chunk] for chunk in chunks])  # items may carry word ids
        weighted = bool((weights != 1.0).any())
        batch = chunks + ([tok.empty_chunk(slot.pad)] if weighted else [])
        hidden, pooled = self._run(slot, batch)
        if weighted:
            # spec §8.9: weighted token vectors move away from the empty prompt's vectors
            empty, hidden = hidden[-1:], hidden[:-1]
            hidden = (hidden - empty) * weights[..., None] + empty
        return hidden.reshape(1, -1, hidden.shape[-1]), pooled[:1]

    def _run(self, slot: ClipSlot, batch: list[tok.Chunk]) -> tuple[torch.Tensor, torch.Tensor]:
        apply_patches(slot.model, self.patches.get(slot.name, ()))
        device = self.device
        inner = getattr(slot.model, "text_model", slot.model)
        vocab = inner.embeddings.token_embedding.num_embeddings
        ids, vectors = [], []
        for chunk in batch:
            row = []
            for item in chunk:
                token = item[0]
                if isinstance(token, torch.Tensor):
                    row.append(vocab + len(vectors))
                    vectors.append(token)
                else:
                    row.append(int(token))
            ids.append(row)
        ids = torch.tensor(ids, device=device)
        base = inner.embeddings.token_embedding
        if vectors:
            inner.embeddings.token_embedding = _WithExtraTokens(base, torch.stack(vectors))
        try:
            out = slot.model(input_ids=ids, output_hidden_states=True)
        finally:
            inner.embeddings.token_embedding = base
        if slot.layer is None:
            hidden = out.last_hidden_state
        else:
            hidden = out.hidden_states[slot.layer]
            if slot.norm_hidden:
                hidden = inner.final_layer_norm(hidden)
        pooled = getattr(out, "text_embeds", None)
        if pooled is None:
            pooled = out.pooler_output
        return hidden.float().cpu(), pooled.float().cpu()


class _WithExtraTokens(torch.nn.Module):
    """Token embedding whose ids past the vocabulary pick textual-inversion vectors."""

    def __init__(self, base: torch.nn.Embedding, extra: torch.Tensor):
        super().__init__()
        self.base = base
        self.extra = extra
        self.num_embeddings = base.num_embeddings

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        vocab = self.base.num_embeddings
        out = self.base(ids.clamp(max=vocab - 1))
        extra = ids >= vocab
        if extra.any():
            out = out.clone()
            out[extra] = self.extra.to(out)[ids[extra] - vocab]
        return out
