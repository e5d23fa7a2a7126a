"""Tokens printed by a command (``token_command``), as mail tools' "PassCmd".

For vaults, sidecars and setups the gateway does not know: the command runs without a
shell (its line is split like a shell would, ``shlex``), inherits the environment, and
prints either the bare token on its first line, or a JSON object with ``access_token`` and
optionally ``expires_in`` (the shape of a token endpoint's answer). A bare token is reused
for ``lifetime`` seconds, or until a server refuses it.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from typing import Any

from invitegw.mailbox.transport.oauth.tokens import IssuedToken, TokenError

__all__ = ["CommandSource"]

_MAX_OUTPUT = 64 * 1024


class CommandSource:
    """Runs ``command`` for each new token (see the module docstring).

    Parameters:
        where: the account's section, for messages.
        command: the command line.
        lifetime: seconds a bare token is reused.
        timeout: seconds the command may run.

    Raises:
        TokenError: the command line is empty or cannot be split.
    """

    def __init__(self, *, where: str, command: str, lifetime: float, timeout: float) -> None:
        self._where = where
        try:
            self._argv = shlex.split(command)
        except ValueError as exc:
            raise TokenError(f"{where}.oauth2.token_command: cannot be split ({exc})") from exc
        if not self._argv:
            raise TokenError(f"{where}.oauth2.token_command: empty")
        self._lifetime = lifetime
        self._timeout = timeout
        self._description = f"token_command {self._argv[0]}"

    def __repr__(self) -> str:
        return f"CommandSource({self._description!r})"

    @property
    def description(self) -> str:
        """The program that prints the token."""
        return self._description

    def fetch(self) -> IssuedToken:
        """Run the command and read its token.

        Returns:
            The token and its lifetime.

        Raises:
            TokenError: the command failed, timed out, or printed no token.
        """
        key = f"{self._where}.oauth2.token_command"
        try:
            # The argv comes from the operator's configuration, never from mail.
            completed = subprocess.run(  # noqa: S603
                self._argv,
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=self._timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            raise TokenError(f"{key}: {self._argv[0]} not found") from exc
        except subprocess.TimeoutExpired as exc:
            raise TokenError(
                f"{key}: {self._argv[0]} did not finish within {self._timeout:.0f} s",
                transient=True,
            ) from exc
        except OSError as exc:
            raise TokenError(f"{key}: {self._argv[0]} could not run ({exc.strerror})") from exc
        if completed.returncode != 0:
            # stderr may say why (vault sealed, not logged in); stdout may hold secrets.
            said = completed.stderr.decode("utf-8", "replace").strip().splitlines()
            reason = f": {said[-1][:200]}" if said else ""
            raise TokenError(f"{key}: {self._argv[0]} exited with {completed.returncode}{reason}")
        return self._parse(completed.stdout[:_MAX_OUTPUT].decode("utf-8", "replace"), key)

    def _parse(self, output: str, key: str) -> IssuedToken:
        text = output.strip()
        if text.startswith("{"):
            try:
                body: Any = json.loads(text)
            except ValueError as exc:
                raise TokenError(f"{key}: printed JSON that does not parse") from exc
            token = body.get("access_token") if isinstance(body, dict) else None
            if not isinstance(token, str) or not token:
                raise TokenError(f"{key}: printed JSON without an access_token")
            expires = body.get("expires_in")
            lifetime = float(expires) if isinstance(expires, int | float) else self._lifetime
            return IssuedToken(token, lifetime)
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if not lines:
            raise TokenError(f"{key}: printed no token")
        token = lines[0]
        if any(c.isspace() for c in token):
            raise TokenError(f"{key}: the first line is not a token (it has spaces)")
        return IssuedToken(token, self._lifetime)
