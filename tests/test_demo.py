import numpy as np
import soundfile as sf

from audiovae.demo import demo_clips, write_demo_clips


def test_demo_clips_are_deterministic_music_like_and_written_once(tmp_path):
    a, b = demo_clips(seconds=1.0), demo_clips(seconds=1.0)
    assert sorted(a) == ["band", "chirp", "chord", "drums", "melody"]
    for name in a:
        assert np.array_equal(a[name], b[name]) and np.max(np.abs(a[name])) == np.float32(0.8)
    paths = write_demo_clips(tmp_path, seconds=1.0)
    stamp = paths[0].stat().st_mtime_ns
    write_demo_clips(tmp_path, seconds=1.0)
    assert paths[0].stat().st_mtime_ns == stamp
    data, sr = sf.read(paths[0])
    assert sr == 22050 and len(data) == 22050
    spectrum = np.abs(np.fft.rfft(a["band"]))
    freqs = np.fft.rfftfreq(len(a["band"]), 1 / 22050)
    assert spectrum[freqs > 4000].sum() > 0.01 * spectrum.sum()  # has high-frequency content to lose
