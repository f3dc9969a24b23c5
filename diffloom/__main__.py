from diffloom.cli import main

raise SystemExit(main())
