"""The CLI's shared option helpers (`dgflow_tf.cli.options`) at their edges."""

import pytest

from dgflow_tf.cli.options import check_output_directory


def test_an_object_store_output_dir_is_never_checked_on_the_local_disk(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # A local file whose name is the URL's scheme: read as a local path, ram://runs/out would be
    # "under a file".
    (tmp_path / "ram:").write_text("not a directory")
    check_output_directory("ram://runs/out")
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(NotADirectoryError, match=r"--output-dir file/out: .*file is a file, not a directory"):
        check_output_directory("file/out")
    with pytest.raises(FileExistsError, match=r"--output-dir file is an existing file"):
        check_output_directory("file")
    check_output_directory("new/deeper/out")  # nothing exists yet: fine
