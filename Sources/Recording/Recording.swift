/// Recording: the recording file format, the recorder, the replayer and the exports.
public enum RecordingInfo {}
