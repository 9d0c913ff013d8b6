#!/bin/bash
# Makes frontend_before_logmel.npy (the DCASE baseline's log-mel at 16 kHz, no context: frames × 64) and
# frontend_before_mel.npy (librosa's mel defaults at 22 050 Hz: frames × 128) of a real recording, the spoken
# "front center" of Debian's sound-theme-freedesktop, computed by the last commit whose front end ran on FFTW and
# libsndfile (676aa8d). FrontEndBeforeAfterTests computes the same with today's front end (NWaves' FFT, NAudio).
# The WAVs are made by sox from the .oga as the test makes them (float, so no dither). Run once from the repository:
#   bash Tests/Shared.Tests/Fixtures/make_frontend_before.sh
# Needs: apt-get install sound-theme-freedesktop sox libsox-fmt-all libfftw3-single3 libsndfile1 libsoxr0 libopenblas0-pthread
set -euo pipefail
out="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'git worktree remove --force "$tmp/old" 2>/dev/null || true; rm -rf "$tmp"' EXIT
git worktree add -f "$tmp/old" 676aa8d >/dev/null
dotnet build "$tmp/old/Training/Cli/pipeline-train.csproj" -c Release -nologo -v quiet -clp:ErrorsOnly >/dev/null
train() { dotnet "$tmp/old/Training/Cli/bin/Release/net10.0/pipeline-train.dll" "$@"; }
speech=/usr/share/sounds/freedesktop/stereo/audio-channel-front-center.oga
sox "$speech" -e floating-point -b 32 "$tmp/16k.wav" rate -v 16000
sox "$speech" -e floating-point -b 32 "$tmp/22k.wav" rate -v 22050
train features -q --input "$tmp/16k.wav" --preset dcase-logmel --context 0 --out "$out/frontend_before_logmel.npy"
train features -q --input "$tmp/22k.wav" --preset librosa-mel --out "$out/frontend_before_mel.npy"
