from mlp_tui.cli.main import main

main()
