"""One source for what the server answers: the README's status table, the index page's table
(rendered from the server's own table of errors, src/http/errors.cc) and the real answers agree.
"""

import html
import os
import re
import unittest

from harness import REPO_ROOT, ServerTestCase

README = os.path.join(REPO_ROOT, "README.md")
PAGE_ROW_RE = re.compile(r"<tr><td>(\d{3})</td><td><code>(.*?)</code></td>")


def readme_answers():
    """(status, body) for each error body of the README's "Status codes and bodies" table."""
    with open(README, encoding="utf-8") as readme:
        text = readme.read()
    section = text.split("### Status codes and bodies", 1)[1].split("\n\n", 2)[1]
    answers = set()
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].isdigit():
            continue
        for body in re.findall(r"`([^`]*)`", cells[1]):
            if body.endswith("\\n"):  # error bodies are written with their "\n"
                answers.add((int(cells[0]), body[:-2]))
    return answers


class AnswersTableTest(ServerTestCase):

    def page_answers(self):
        response = self.conn.request("GET", "/")
        self.assertEqual(response.status, 200, response)
        page = response.body.decode("utf-8")
        return {(int(status), html.unescape(body)) for status, body in PAGE_ROW_RE.findall(page)}

    def test_the_readme_lists_exactly_the_errors_of_the_index_page(self):
        readme = readme_answers()
        page = self.page_answers()
        self.assertGreaterEqual(len(page), 20, page)
        self.assertIn((429, "Key quota reached: too many live keys from your address"), page)
        self.assertEqual(sorted(readme - page), [], "in the README but not sent by the server")
        self.assertEqual(sorted(page - readme), [], "sent by the server but not in the README")

    def test_the_page_shows_the_answers_the_server_really_gives(self):
        page = self.page_answers()
        key = "/" + self.key()
        samples = [
            (self.conn.request("GET", key), (404, "Key not found")),
            (self.conn.request("POST", "/ip/", b"v"), (400, "Name is required after /ip/")),
            (self.conn.request("POST", key, b"v", [("X-TTL", "soon")]), (400, "Invalid X-TTL")),
            (self.conn.request("PATCH", key), (405, "Method Not Allowed")),
        ]
        for response, expected in samples:
            self.assertEqual((response.status, response.text.rstrip("\n")), expected)
            self.assertIn(expected, page)


if __name__ == "__main__":
    unittest.main()
