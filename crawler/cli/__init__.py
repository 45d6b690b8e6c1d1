"""The `newswatch` command."""
import click


@click.group()
def main() -> None:
    """newswatch: news monitoring with alerts."""
