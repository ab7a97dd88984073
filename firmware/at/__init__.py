"""The AT command channel: line framing, unsolicited result codes and command execution."""
