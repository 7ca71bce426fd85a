"""Headless MuJoCo rendering and video files: the OpenGL back-end, the overlay, the writers.

Rendering needs an OpenGL context. On a machine with no display and no GPU, MuJoCo gets one
from EGL (Mesa's software driver does) or OSMesa; `gl_backend()` picks the first that works
(EGL, then OSMesa; `MUJOCO_GL=egl|osmesa|glfw` forces one) and names the missing system
package when neither does. MuJoCo reads MUJOCO_GL once, when `mujoco` is first imported, and
this package imports `mujoco` early (the tasks do), so instead of relying on the variable,
`offscreen_renderer` builds `mujoco.Renderer` with the chosen back-end's context class.

Frames go to MP4 (H.264 through imageio-ffmpeg's bundled ffmpeg) or GIF (Pillow) as they are
made, so a long episode never sits in memory as raw frames, and to a temporary name first, so
an interrupted render leaves no truncated video behind.
"""
from __future__ import annotations

import contextlib
import ctypes.util
import functools
import importlib
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from stackelberg.core.errors import UserInputError, error_line

BACKENDS = ("egl", "osmesa")
_LIBRARIES = {"egl": "EGL", "osmesa": "OSMesa"}
APT_PACKAGES = {"egl": "libegl1 libgl1-mesa-dri", "osmesa": "libosmesa6"}
INSTALL_HINT = (f"install one: apt-get install {APT_PACKAGES['egl']} "
                f"(or apt-get install {APT_PACKAGES['osmesa']})")
MAX_FPS = 50.0  # GIF viewers ignore frame delays under 20 ms; MP4 gains nothing above it


class RenderBackendError(UserInputError):
    """No OpenGL back-end for headless rendering; the message names the system package."""


# --- the OpenGL back-end ----------------------------------------------------------------------

def _library_present(backend: str) -> bool:
    return ctypes.util.find_library(_LIBRARIES[backend]) is not None


def _context_class(backend: str) -> type:
    """MuJoCo's GLContext class for `backend` (importing it loads the back-end's library)."""
    if backend == "egl":
        from mujoco.egl import GLContext
    elif backend == "osmesa":
        from mujoco.osmesa import GLContext
    else:
        from mujoco.glfw import GLContext
    return GLContext


def _try_backend(backend: str) -> Optional[str]:
    """None if MuJoCo can draw with `backend` (a tiny context made current and MuJoCo's GL
    state loaded into it), else why not."""
    import mujoco

    try:
        with warnings.catch_warnings():  # GLFW warns before failing; the error says it all
            warnings.simplefilter("ignore")
            context = _context_class(backend)(16, 16)
            try:
                context.make_current()
                model = mujoco.MjModel.from_xml_string("<mujoco/>")
                mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_100).free()
            finally:
                context.free()
    except Exception as err:  # ImportError, OSError, EGL/OSMesa/GL errors: all mean "not here"
        return error_line(err)
    return None


def _works_in_subprocess(backend: str) -> bool:
    """Probe in a child: a failed EGL attempt pins PyOpenGL's platform to EGL for this whole
    process, which would rule out the OSMesa fallback if it ran here."""
    code = ("import sys\nfrom stackelberg.analysis.video import _try_backend\n"
            f"sys.exit(0 if _try_backend({backend!r}) is None else 1)\n")
    env = {**os.environ, "MUJOCO_GL": backend, "PYOPENGL_PLATFORM": backend}
    try:
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              timeout=300).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@functools.lru_cache(maxsize=1)
def gl_backend() -> str:
    """The OpenGL back-end MuJoCo renders with here: MUJOCO_GL if set, else EGL, else OSMesa.

    Raises `RenderBackendError` (one line, with the apt-get command) when none works."""
    forced = os.environ.get("MUJOCO_GL", "").strip().lower()
    if forced in ("egl", "osmesa", "glfw", "glx"):
        backend = "glfw" if forced == "glx" else forced
        problem = _try_backend(backend)
        if problem is not None:
            hint = f"apt-get install {APT_PACKAGES[backend]}" if backend in APT_PACKAGES \
                else "unset MUJOCO_GL to render headless with EGL or OSMesa"
            raise RenderBackendError(f"MUJOCO_GL={forced}: MuJoCo cannot render ({problem}); {hint}")
        return backend
    present = [b for b in BACKENDS if _library_present(b)]
    if not present:
        raise RenderBackendError(f"headless rendering needs EGL or OSMesa and neither library "
                                 f"was found; {INSTALL_HINT}")
    if len(present) > 1:  # the first that works; else the first, for its error message
        present = [next((b for b in present if _works_in_subprocess(b)), present[0])]
    problem = _try_backend(present[0])
    if problem is not None:
        raise RenderBackendError(f"MuJoCo cannot render with {present[0].upper()} ({problem}); "
                                 f"{INSTALL_HINT}")
    return present[0]


@contextlib.contextmanager
def _renderer_context_class(cls: type) -> Iterator[None]:
    """Make `mujoco.Renderer` create a `cls` context while it is being built (it reads the
    class from its gl_context module; the context it creates stays with the renderer)."""
    import mujoco

    module = importlib.import_module(mujoco.Renderer.__module__).gl_context
    saved = getattr(module, "GLContext", None)
    module.GLContext = cls
    try:
        yield
    finally:
        module.GLContext = saved


def offscreen_renderer(model: Any, width: int, height: int, shadows: bool = False) -> Any:
    """A `mujoco.Renderer` on the headless back-end. The model's offscreen buffer grows to the
    frame size if needed. Shadows and reflections are off unless asked for: in a software
    OpenGL driver they cost 5-10x the rest of the frame."""
    import mujoco

    backend = gl_backend()
    visual = model.vis.global_
    visual.offwidth, visual.offheight = max(visual.offwidth, width), max(visual.offheight, height)
    with _renderer_context_class(_context_class(backend)):
        renderer = mujoco.Renderer(model, height=height, width=width)
    if not shadows:
        for flag in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION):
            renderer.scene.flags[flag] = 0
    return renderer


# --- the overlay ------------------------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def _font(size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def draw_text_box(frame: np.ndarray, lines: Sequence[str], corner: str = "top-left") -> np.ndarray:
    """`lines` in white on a translucent dark box in a corner of an RGB frame, sized to the
    frame's height so that small previews stay legible. Returns a new frame."""
    from PIL import Image, ImageDraw

    text = "\n".join(lines)
    if not text:
        return frame
    height = frame.shape[0]
    size = max(9, round(height / 30))
    pad = max(2, size // 3)
    image = Image.fromarray(frame).convert("RGBA")
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = _font(size)
    left, top, right, bottom = draw.multiline_textbbox((0, 0), text, font=font, spacing=2)
    box_w, box_h = right - left + 2 * pad, bottom - top + 2 * pad
    x = 0 if corner.endswith("left") else max(0, image.width - box_w)
    y = 0 if corner.startswith("top") else max(0, image.height - box_h)
    draw.rectangle((x, y, x + box_w, y + box_h), fill=(0, 0, 0, 150))
    draw.multiline_text((x + pad - left, y + pad - top), text, font=font, fill=(255, 255, 255, 255),
                        spacing=2)
    return np.asarray(Image.alpha_composite(image, layer).convert("RGB"))


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Two equal-sized frames in one, with a thin white divider."""
    frame = np.concatenate([left, right], axis=1)
    mid = left.shape[1]
    frame[:, mid - 1:mid + 1] = 255
    return frame


# --- video files ------------------------------------------------------------------------------

class VideoWriter:
    """Frames appended one at a time to an MP4 or GIF file.

    Written to `<name>.tmp.<ext>` and renamed on `close()`; `abort()` (or leaving a `with`
    block by an exception) deletes the partial file."""

    def __init__(self, path: str | Path, fps: float, gif: bool = False):
        self.path = Path(path)
        self.fps = float(fps)
        self.gif = gif
        self.frames = 0
        self.size: Optional[tuple[int, int]] = None  # (width, height)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f"{self.path.stem}.tmp{self.path.suffix}")
        self._gif_frames: list[Any] = []
        self._writer: Any = None
        if not gif:
            import imageio.v2 as imageio

            # macro_block_size=1: frames are never rescaled (their sizes are even, as H.264 wants)
            self._writer = imageio.get_writer(self._tmp, format="FFMPEG", mode="I", fps=self.fps,
                                              codec="libx264", pixelformat="yuv420p", quality=8,
                                              macro_block_size=1, ffmpeg_log_level="error")

    def append(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if self.size is None:
            self.size = (w, h)
        elif self.size != (w, h):
            raise ValueError(f"frame size changed from {self.size} to {(w, h)}")
        if self.gif:
            from PIL import Image

            # a palette per frame: 1 byte per pixel while the GIF is assembled
            self._gif_frames.append(Image.fromarray(frame).quantize(colors=256))
        else:
            self._writer.append_data(np.ascontiguousarray(frame))
        self.frames += 1

    def close(self) -> Path:
        if self.frames == 0:
            self.abort()
            raise ValueError("no frames to write")
        if self.gif:
            first, *rest = self._gif_frames
            first.save(self._tmp, format="GIF", save_all=True, append_images=rest, loop=0,
                       duration=round(1000 / self.fps), optimize=False)
            self._gif_frames = []
        else:
            self._writer.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        self._gif_frames = []
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.abort()
