#!/bin/sh
# Slim a serve-only venv for the container image: remove what serving never loads and strip
# debug symbols from the shared libraries that keep them. Run by the Dockerfile's builder
# stage; each line names what goes and why nothing at run time needs it. The image test
# (deploy/image-test.sh) then starts the image and checks a real prediction.
set -eu
venv="$1"
site="$(echo "$venv"/lib/python3*/site-packages)"
before="$(du -sm "$venv" | cut -f1)"

# Test suites, type stubs, C headers and Cython declarations: imported by no running code.
find "$venv" -depth -type d \( -name tests -o -name __pycache__ \) -exec rm -rf {} +
find "$venv" \( -name '*.pyi' -o -name '*.pxd' -o -name '*.h' \) -type f -delete
rm -rf "$site"/numpy/f2py "$site"/numpy/distutils "$site"/numpy/_core/include \
    "$site"/numpy/_pyinstaller "$site"/numpy/_core/lib/pkgconfig
# NumPy's own test extension modules (SIMD and ufunc test harnesses), and the subpackages that
# NumPy imports only on first use and serving never uses (checked with `python -X importtime
# -m serving` through digit, number, batch, JPEG, /metrics and /docs requests).
rm -f "$site"/numpy/_core/_simd.* "$site"/numpy/_core/_*_tests.*
rm -rf "$site"/numpy/random "$site"/numpy/ma "$site"/numpy/polynomial "$site"/numpy/fft \
    "$site"/numpy/testing "$site"/numpy/typing
# onnxruntime's Python requirements for its offline tools (model conversion and checking):
# the runtime parses models in C++ and never imports them.
rm -rf "$site"/google "$site"/protobuf-*.dist-info "$site"/packaging "$site"/packaging-*.dist-info \
    "$site"/flatbuffers "$site"/flatbuffers-*.dist-info

# onnxruntime: the Python binding carries its own copy of the runtime, so the C-API library
# (35 MB) is for other languages; the model tooling is for offline use.
rm -f "$site"/onnxruntime/capi/libonnxruntime.so.*
rm -rf "$site"/onnxruntime/transformers "$site"/onnxruntime/quantization \
    "$site"/onnxruntime/tools "$site"/onnxruntime/datasets "$site"/onnxruntime/backend

# Pillow: fonts (FreeType, HarfBuzz, Brotli, the libpng FreeType uses), colour management and
# AVIF. Pillow loads each of these only when asked, and serving decodes PNG, JPEG, WebP, GIF
# and BMP through _imaging and _webp alone.
rm -f "$site"/PIL/_imagingft.* "$site"/PIL/_imagingcms.* "$site"/PIL/_avif.*
for lib in libavif libfreetype libharfbuzz libbrotlicommon libbrotlidec libpng16 liblcms2; do
    rm -f "$site"/pillow.libs/"$lib"-*
done

# Debug symbols: uvloop alone keeps 12 MB of them. Only extension modules that auditwheel
# left alone: a library it vendored (*.libs/) or re-linked (an RPATH) no longer loads once
# stripped ("ELF load command address/offset not page-aligned").
if command -v strip >/dev/null && command -v readelf >/dev/null; then
    find "$venv" -name '*.so' -type f -not -path '*.libs/*' | while read -r module; do
        readelf -d "$module" | grep -q -e RPATH -e RUNPATH || strip --strip-unneeded "$module"
    done
else
    echo "slim-venv: no binutils here; the shared libraries keep their symbols" >&2
fi

echo "slim-venv: $venv from ${before} MB to $(du -sm "$venv" | cut -f1) MB"
