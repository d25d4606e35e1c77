"""Should e5 read the catalogue's documents with its query prompt? A plain simulation, before the product.

multilingual-e5 is trained with `query: ` before questions and `passage: ` before the texts that
answer them, and its model card asks for `query: ` on both sides of symmetric tasks (paraphrase,
bitext). A description of a movie against its overview sits between the two, so this script encodes
the benchmark's documents both ways (the queries keep `query: `) and asks each set with e5 alone, with
movrec's lists (e5, MiniLM for queries read as English or USE for the others, TF-IDF for the engine's
BM25, DBSF of each top 50, + 0.8 x renown, as bench/second_stage.py's first stage), and with the
strongest plain fusion, RRF(e5 + MiniLM + TF-IDF). A change of prompt would re-encode every
document; it would be taken only if movrec's lists gained on the tuning parts without losing a set.
Reads the vectors bench/dense_lists.py cached; encodes the documents once with `query: ` (~1 min).
Usage: python bench/e5_prompts.py [--data ../shared/data]
"""

from __future__ import annotations

from dense_lists import (
    K,
    arguments,
    cached,
    corpus,
    model_vectors,
    print_ranks,
    ranked,
    renown_fused,
    renown_prior,
    rrf,
    tfidf_matrices,
    top,
)

from movrec_dagster.core.embedding import Embedder, EmbedderSettings


def main() -> None:
    data, _ = arguments()
    queries, ids, texts, asked = corpus(data)
    vectors = model_vectors(texts, asked)
    e5 = Embedder(EmbedderSettings(second_model=None))
    documents = {
        "passage: ": vectors["e5"][0],
        "query: ": cached("e5_docs_query_prompt", texts, lambda batch: e5.encode(batch, "query")),
    }
    english = Embedder(EmbedderSettings(model="all-MiniLM-L6-v2", second_model=None))  # who asks MiniLM
    tfidf_docs, tfidf_queries = tfidf_matrices(texts, asked)
    prior = renown_prior(data, ids)
    row, position = {q: i for i, q in enumerate(asked)}, {m: i for i, m in enumerate(ids)}
    ranks: dict[tuple[str, str, str], list[int | None]] = {}
    for group, movie, text, held_out in queries.iter_rows():
        i = row[text]
        lexical = top((tfidf_docs @ tfidf_queries[i].T).toarray().ravel())
        minilm = top(vectors["minilm"][0] @ vectors["minilm"][1][i])
        second = minilm if english.asked(text) else top(vectors["use"][0] @ vectors["use"][1][i])
        for prompt, docs in documents.items():
            dense = top(docs @ vectors["e5"][1][i])
            systems = {
                f"e5 alone, documents read as {prompt!r}": dense[0][:K].tolist(),
                f"movrec's lists, documents read as {prompt!r}": ranked(*renown_fused([dense, second, lexical], prior)),
                f"RRF(e5 + MiniLM + TF-IDF), documents read as {prompt!r}": rrf(dense, minilm, lexical),
            }
            for system, got in systems.items():
                rank = got.index(position[movie]) + 1 if position[movie] in got else None
                ranks.setdefault((group, "held-out" if held_out else "tuning", system), []).append(rank)
    print_ranks(ranks, "e5's document prompt")


if __name__ == "__main__":
    main()
