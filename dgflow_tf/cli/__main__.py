"""`python -m dgflow_tf.cli`: the `dgflow-tf` command."""

import sys

from dgflow_tf.cli import main

sys.exit(main())
