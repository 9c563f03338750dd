from mlp_tui.cli import main

main()
