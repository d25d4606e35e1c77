"""Regenerate the shipped demo library: spoken narration (espeak-ng) over a title card (moviepy).

Developer tool, not needed at run time: its output (`library/*.mp4` + sidecars) ships in the
package so movrec's demo works on machines without espeak-ng. Run:
    apt-get install espeak-ng && python -m movrec_dagster.demo.generate
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from moviepy import AudioFileClip, ColorClip, CompositeVideoClip, TextClip

HERE = Path(__file__).parent
SIDECAR_FIELDS = ("id", "tmdb_id", "title", "year", "genres", "overview")


def speak(text: str, voice: str, out: Path) -> None:
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(out), text], check=True)


def render(movie: dict, target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        speak(movie["narration"], movie["voice"], wav)
        audio = AudioFileClip(str(wav))
        card = ColorClip((320, 180), color=(20, 24, 40), duration=audio.duration)
        title = TextClip(
            text=movie["title"], font_size=18, color="white", method="caption", size=(300, 160), duration=audio.duration
        ).with_position("center")
        clip = CompositeVideoClip([card, title]).with_audio(audio)
        clip.write_videofile(
            str(target),
            fps=5,
            codec="libx264",
            audio_codec="aac",
            audio_bitrate="48k",
            preset="veryslow",
            logger=None,
            ffmpeg_params=["-crf", "35"],
        )
        audio.close()


def main(out_dir: Path = HERE / "library") -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for movie in json.loads((HERE / "movies.json").read_text()):
        render(movie, out_dir / f"{movie['id']}.mp4")
        sidecar = {key: movie[key] for key in SIDECAR_FIELDS} | {"kind": "trailer"}
        (out_dir / f"{movie['id']}.json").write_text(json.dumps(sidecar, indent=2, ensure_ascii=False))
        print("wrote", movie["id"])


if __name__ == "__main__":
    main()
