"""``creditcore completion SHELL``: the shell completion script, click's own.

The script asks the ``creditcore`` on the ``PATH`` for completions as one types (commands,
options, choices such as ``--overdraft``'s), through the ``_CREDITCORE_COMPLETE`` environment
variable; ``_CREDITCORE_COMPLETE=bash_source creditcore`` prints the same script.
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

__all__ = ["SHELLS", "completion"]

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_CREDITCORE_COMPLETE"


@click.command()
@click.argument("shell", type=click.Choice(SHELLS), metavar="SHELL")
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the completion script for SHELL; load it from the shell's startup file.

    \b
    bash (~/.bashrc):                   eval "$(creditcore completion bash)"
    zsh (~/.zshrc):                     eval "$(creditcore completion zsh)"
    fish (~/.config/fish/config.fish):  creditcore completion fish | source

    \b
    Example:
      creditcore completion bash > ~/.local/share/bash-completion/completions/creditcore
    """
    found = get_completion_class(shell)
    assert found is not None  # every one of SHELLS is click's
    # for the console script, whatever this was run as (python -m creditcore too)
    script = found(ctx.find_root().command, {}, "creditcore", COMPLETE_VAR).source()
    click.echo(script)
