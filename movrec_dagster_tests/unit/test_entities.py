"""Which video belongs to which movie, and ids that keep resolving (pure logic, milliseconds)."""

from __future__ import annotations

import polars as pl

from movrec_dagster.core.entities import normal_title, resolve_movies, title_keys

from .fakes import catalogue, video, videos

CASABLANCA = (289, "Casablanca", 1942, "en", 30.0)


def _clips(n: int = 6, **fields: object) -> pl.DataFrame:
    return videos(*(video(f"casablanca-clip{i}", title="Casablanca", year=1942, **fields) for i in range(n)))


def _routes(frame: pl.DataFrame, language: str = "en") -> dict[str, str]:
    return dict.fromkeys(frame["video_id"], language)


def test_six_clips_and_their_catalogue_row_are_one_movie_with_the_catalogue_id() -> None:
    clips = _clips()
    result = resolve_movies(clips, _routes(clips), catalogue(CASABLANCA, (550, "Fight Club", 1999, "en", 60.0)))
    movies = result.movies
    assert len(movies) == 2
    casablanca = movies.filter(pl.col("movie_id") == "tmdb-289").row(0, named=True)
    assert casablanca["source"] == "video+catalogue" and len(casablanca["video_ids"]) == 6
    assert casablanca["overview"] == "The overview of Casablanca."
    assert set(result.videos["movie_id"]) == {"tmdb-289"} and set(result.videos["attached_by"]) == {"title+year"}


def test_year_off_by_one_still_attaches_but_not_by_two() -> None:
    near = videos(video("a", title="Casablanca", year=1943), video("b", title="Casablanca", year=1944))
    result = resolve_movies(near, _routes(near), catalogue(CASABLANCA))
    assert dict(result.videos.select("video_id", "movie_id").iter_rows()) == {"a": "tmdb-289", "b": "b"}


def test_clips_without_a_catalogue_group_by_title_and_year_and_keep_their_id() -> None:
    clips = _clips(3)
    first = resolve_movies(clips, _routes(clips), None)
    assert first.movies["movie_id"].to_list() == ["casablanca-clip0"]
    # a new clip that sorts first joins the movie; the movie keeps the id it was served under
    more = pl.concat([videos(video("aaa-casablanca", title="Casablanca", year=1942)), clips])
    second = resolve_movies(more, _routes(more), None, first.videos, first.aliases)
    assert second.movies["movie_id"].to_list() == ["casablanca-clip0"]
    assert len(second.movies["video_ids"][0]) == 4


def test_a_stand_alone_movie_later_matched_to_the_catalogue_keeps_its_old_id_as_an_alias() -> None:
    clip = videos(video("casablanca-trailer", title="Casablanca", year=1942, kind="trailer"))
    before = resolve_movies(clip, _routes(clip), None)
    assert before.movies["movie_id"].to_list() == ["casablanca-trailer"]
    after = resolve_movies(clip, _routes(clip), catalogue(CASABLANCA), before.videos, before.aliases)
    assert "tmdb-289" in after.movies["movie_id"].to_list()
    aliases = dict(after.aliases.select("alias", "movie_id").iter_rows())
    assert aliases == {"casablanca-trailer": "tmdb-289"}
    # the catalogue row deleted while the video still attaches: the movie keeps its id (and aliases)
    gone = resolve_movies(clip, _routes(clip), None, after.videos, after.aliases)
    assert gone.movies.select("movie_id", "source").rows() == [("tmdb-289", "video")]
    assert dict(gone.aliases.select("alias", "movie_id").iter_rows()) == {"casablanca-trailer": "tmdb-289"}


def test_sidecar_ids_and_unknown_tmdb_ids_become_aliases() -> None:
    frame = videos(
        video("martian-trailer", sidecar_id="the-martian", catalogue_id="286217", title="The Martian", year=2015),
        video("other", sidecar_id="mystery", catalogue_id="999999", imdb_id="tt0000001"),
    )
    result = resolve_movies(frame, _routes(frame), catalogue((286217, "The Martian", 2015, "en", 50.0)))
    aliases = dict(result.aliases.select("alias", "movie_id").iter_rows())
    assert aliases["the-martian"] == "tmdb-286217"
    assert aliases["tmdb-999999"] == "mystery" and aliases["imdb-tt0000001"] == "mystery"
    assert "in no catalogue" in result.notes["other"]


def test_conflicting_sidecars_and_duplicate_catalogue_rows_are_decided_and_noted() -> None:
    frame = videos(
        video("t1", sidecar_id="film", title="Alpha", year=2001, kind="trailer"),
        video("c1", sidecar_id="film", title="Alpha Redux", year=2003, kind="clip"),
    )
    result = resolve_movies(frame, _routes(frame), None)
    movie = result.movies.row(0, named=True)
    assert (movie["movie_id"], movie["title"], movie["year"]) == ("film", "Alpha", 2001)  # the trailer's
    assert "disagree" in result.notes["film"]
    twins = catalogue((1, "Twin", 2000, "en", 5.0), (2, "Twin", 2000, "en", 9.0))
    clip = videos(video("twin-clip", title="Twin", year=2000))
    chosen = resolve_movies(clip, _routes(clip), twins)
    assert chosen.videos["movie_id"].to_list() == ["tmdb-2"] and "2 catalogue rows" in chosen.notes["twin-clip"]


def test_a_video_whose_sidecar_changes_its_movie_moves_and_its_old_movie_id_resolves() -> None:
    first = videos(video("clip", sidecar_id="old-movie"))
    before = resolve_movies(first, _routes(first), None)
    moved = videos(video("clip", movie_hint="new-movie", sidecar_id="old-movie"))
    after = resolve_movies(moved, _routes(moved), None, before.videos, before.aliases)
    assert after.movies["movie_id"].to_list() == ["new-movie"]
    assert dict(after.aliases.select("alias", "movie_id").iter_rows()) == {"old-movie": "new-movie"}


def test_alias_cycles_and_self_references_are_dropped() -> None:
    frame = videos(video("a", sidecar_id="x"), video("b", sidecar_id="y"))
    cycle = pl.DataFrame({"alias": ["p", "q", "x"], "movie_id": ["q", "p", "x"], "reason": ["earlier id"] * 3})
    result = resolve_movies(frame, _routes(frame), None, None, cycle)
    aliases = dict(result.aliases.select("alias", "movie_id").iter_rows())
    assert "p" not in aliases and "q" not in aliases and "x" not in aliases  # x is canonical: never shadowed


def test_movie_language_is_the_majority_of_its_videos_and_catalogue_only_movies_keep_theirs() -> None:
    frame = videos(
        video("en1", title="Casablanca", year=1942),
        video("en2", title="Casablanca", year=1942),
        video("es1", title="Casablanca", year=1942),
    )
    routes = {"en1": "en", "en2": "en", "es1": "es"}
    result = resolve_movies(frame, routes, catalogue(CASABLANCA, (1, "Amélie", 2001, "fr", 3.0)))
    languages = dict(result.movies.select("movie_id", "language").iter_rows())
    assert languages == {"tmdb-289": "en", "tmdb-1": "fr"}
    assert dict(result.videos.select("video_id", "language").iter_rows())["es1"] == "es"  # heard as Spanish


def test_title_normal_forms() -> None:
    assert normal_title("Amélie!") == "amelie" and normal_title("Fast & Furious") == "fast and furious"
    assert title_keys("The Matrix") == ["the matrix", "matrix"]
    assert title_keys("千と千尋の神隠し") == ["千と千尋の神隠し"]


def test_ratings_by_imdb_id_reach_a_movie_only_a_sidecar_knows(tmp_path) -> None:  # noqa: ANN001
    from movrec_dagster.core.collaborative import read_ratings

    (tmp_path / "links.csv").write_text("movieId,imdbId,tmdbId\n1,0114709,862\n2,0000001,\n")
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n7,1,4.0,1\n7,2,5.0,2\n")
    ratings, failures = read_ratings(tmp_path)
    assert failures == [] and ratings["movie_id"].to_list() == ["tmdb-862", "imdb-tt0000001"]
    frame = videos(video("lumiere", sidecar_id="lumiere", imdb_id="tt0000001"))
    aliases = resolve_movies(frame, _routes(frame), None).aliases
    assert dict(aliases.select("alias", "movie_id").iter_rows()) == {"imdb-tt0000001": "lumiere"}


def test_an_unsure_language_guess_falls_back_to_the_catalogue_then_the_majority(tmp_path) -> None:  # noqa: ANN001
    import json

    from movrec_dagster.core.entities import catalogue_languages
    from movrec_dagster.core.speech import WhisperSettings
    from movrec_dagster.core.stages import route_languages
    from movrec_dagster.core.tables import AUDIO_SCHEMA

    whisper = WhisperSettings()
    clips = videos(
        video("sure-1"),
        video("sure-2"),
        video("line", title="Terminator", year=1984),  # "I'll be back": 1 s, guessed as Korean
        video("mumble"),  # unsure too, and in no catalogue
        video("long"),  # as unsure, but a minute of speech: whisper heard enough
    )
    guesses = {
        "sure-1": ("en", 0.97),
        "sure-2": ("en", 0.91),
        "line": ("ko", 0.41),
        "mumble": ("pt", 0.35),
        "long": ("fr", 0.38),
    }
    seconds = {"long": 60.0}
    for row in clips.iter_rows(named=True):  # whisper's answers, as the detection cache keeps them
        memo = tmp_path / f"{row['content_hash']}.json"
        memo.write_text(json.dumps({whisper.fingerprint: list(guesses[row["video_id"]])}))
    audio = pl.DataFrame(
        [
            {
                "video_id": v,
                "file_name": f"{v}.mp4",
                "content_hash": h,
                "audio_path": f"/a/{v}.wav",
                "audio_seconds": seconds.get(v, 5.0),
            }
            for v, h in clips.select("video_id", "content_hash").iter_rows()
        ],
        schema=AUDIO_SCHEMA,
    )
    known = catalogue_languages(
        clips, catalogue((218, "The Terminator", 1984, "en", 9.0), (1, "Terminator", 1984, "de", 1.0))
    )
    routed, _ = route_languages(
        clips, audio, None, whisper, 0.2, cache=tmp_path, catalogue=known, short_min_probability=0.7
    )
    got = {r["video_id"]: (r["language"], r["language_source"]) for r in routed.iter_rows(named=True)}
    assert got["sure-1"] == ("en", "whisper")
    assert got["line"] == ("de", "catalogue (whisper unsure: ko at 0.41)")  # its catalogue movie's language
    assert got["mumble"] == ("en", "library majority (whisper unsure: pt at 0.35)")
    assert got["long"] == ("fr", "whisper")
