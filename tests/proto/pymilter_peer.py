# SPDX-License-Identifier: MIT
"""pymilter_peer.py - a milter on Debian's python3-milter (libmilter under
Python) for test_milter.py: `python3 pymilter_peer.py SOCKETSPEC` (libmilter's
form, "inet:PORT@127.0.0.1").

What it does depends on the local parts of the recipients, decided at the end
of the message (rcptreject at RCPT):
  accept       ACCEPT                      reject     REJECT with a custom reply
  tempfail     TEMPFAIL                    discard    DISCARD
  quarantine   quarantine, then CONTINUE   addheader  X-Test-Milter: added
  insheader    X-Inserted at the top       chgheader  Subject changed, X-Remove deleted
  addrcpt      added@ and (with NOTIFY) par@   delrcpt    other@example.test removed
  replbody     a new body                  chgfrom    <new-sender@example.test>
  macros       X-Seen-Macros: the macros it was given
  headers      X-Got-Subject: the Subject value it was given (folding as LF)
  rcptreject   that recipient refused at RCPT with 550 5.1.1
Its header callback is @noreply (SMFIP_NR_HDR) and it has no data or unknown
callback (SMFIP_NODATA, SMFIP_NOUNKNOWN), so the client's negotiation is
exercised too.
"""
import sys

import Milter


class TestMilter(Milter.Base):
    def __init__(self):
        self.rcpts = []
        self.subject = None
        self.macros = {}

    def connect(self, hostname, family, hostaddr):
        for m in ("j", "{daemon_name}", "{client_addr}", "_", "v"):
            self.macros[m] = self.getsymval(m)
        return Milter.CONTINUE

    def hello(self, name):
        self.macros["helo"] = name
        return Milter.CONTINUE

    def envfrom(self, sender, *params):
        for m in ("i", "{mail_addr}", "{auth_authen}"):
            self.macros[m] = self.getsymval(m)
        self.macros["from"] = sender + "".join(" " + p for p in params)
        return Milter.CONTINUE

    def envrcpt(self, to, *params):
        local = to.strip("<>").split("@")[0]
        if local == "rcptreject":
            self.setreply("550", "5.1.1", "No such user here")
            return Milter.REJECT
        self.rcpts.append(local)
        self.macros["{rcpt_addr}"] = self.getsymval("{rcpt_addr}")
        return Milter.CONTINUE

    @Milter.noreply
    def header(self, name, value):
        if name.lower() == "subject":
            self.subject = value
        return Milter.CONTINUE

    def eoh(self):
        return Milter.CONTINUE

    def body(self, chunk):
        return Milter.CONTINUE

    def eom(self):
        r = set(self.rcpts)
        if "accept" in r:
            return Milter.ACCEPT
        if "reject" in r:
            self.setreply("554", "5.7.1", "Custom refusal by the test milter")
            return Milter.REJECT
        if "tempfail" in r:
            return Milter.TEMPFAIL
        if "discard" in r:
            return Milter.DISCARD
        if "quarantine" in r:
            self.quarantine("held by the test")
        if "addheader" in r:
            self.addheader("X-Test-Milter", "added")
        if "insheader" in r:
            self.addheader("X-Inserted", "at the top", 0)
        if "chgheader" in r:
            self.chgheader("Subject", 1, "changed subject")
            self.chgheader("X-Remove", 1, "")
        if "addrcpt" in r:
            self.addrcpt("<added@example.test>")
            self.addrcpt("<par@example.test>", "NOTIFY=NEVER")
        if "delrcpt" in r:
            self.delrcpt("<other@example.test>")
        if "replbody" in r:
            self.replacebody(b"replaced body\r\nsecond line\r\n")
        if "chgfrom" in r:
            self.chgfrom("<new-sender@example.test>")
        if "macros" in r:
            seen = " ".join("%s=%s" % (k, self.macros.get(k)) for k in sorted(self.macros))
            self.addheader("X-Seen-Macros", seen)
        if "headers" in r:
            self.addheader("X-Got-Subject", repr(self.subject))
        return Milter.CONTINUE


def main():
    Milter.factory = TestMilter
    Milter.set_flags(Milter.ADDHDRS | Milter.CHGHDRS | Milter.CHGBODY | Milter.ADDRCPT
                     | Milter.ADDRCPT_PAR | Milter.DELRCPT | Milter.QUARANTINE
                     | Milter.CHGFROM)
    sys.stdout.flush()
    Milter.runmilter("mailroom-test", sys.argv[1], 60)


if __name__ == "__main__":
    main()
