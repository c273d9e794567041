from showctl.cli import main

raise SystemExit(main())
