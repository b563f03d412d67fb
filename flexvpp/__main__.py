from flexvpp.cli import main

raise SystemExit(main())
