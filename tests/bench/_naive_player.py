"""The baseline's player: open the device, start, write the whole file (a blocking write).

No shared start time: the approach of an installation script that plays many WAVs on many
sound cards by starting one process per card and writing each file as soon as it can. The
block is fixed (256 samples, as showctl's): through PipeWire's ALSA plugin a variable one spins
a core, and eight such players starved the hub's recorder.
"""

import sys

import sounddevice as sd
import soundfile

device, path = sys.argv[1], sys.argv[2]
data, rate = soundfile.read(path, dtype="float32")
with sd.OutputStream(
    device=device, samplerate=rate, channels=1, dtype="float32", blocksize=256
) as stream:
    stream.write(data)
