"""Grading cases from the public test suites of established graders: inputs and expected
verdicts are theirs (facts), the selection and the harness are ours.

Each case is (source, kind, gold, response, correct). `kind` is the task kind that grades it:
"math" (math-verify), "integer" (one number), "choice" (a letter of A-D). A response is
graded as a whole response with no thinking section (as the `none` baseline is).

Sources (suite, file):
- MV: huggingface/Math-Verify, tests/test_all.py
- LE: huggingface/lighteval, tests/metrics/test_extractive_match.py (English cases)
- SE: openai/simple-evals, the multiple-choice answer pattern "Answer: X" (common.py)
- MN: lm-eval's minerva_math utilities: "Final Answer: The final answer is X. I hope it is
  correct."
- OR: huggingface/open-r1, tests of the accuracy reward (boxed answers)
- GS: lm-eval's gsm8k "flexible-extract" (the last number of the response)

Where suites disagree with a task's gold convention the gold convention wins: a percentage
gold "28\\%" accepts "28" (Math-Verify's percent tests) but "0.28" does not, as in MATH.

REGRESSION was used while building the grader and must pass in full. HELD_OUT was not looked
at while building it; tests/test_grading.py reports and checks its agreement.
"""

from __future__ import annotations

REGRESSION = [
    # Math-Verify: numbers
    ("MV", "math", "-5", "-5", True),
    ("MV", "math", "7425000", "7,425,000", True),
    ("MV", "math", "1000", "1000.0", True),
    ("MV", "math", "1000.0", "1,000.0", True),
    ("MV", "math", "0.4", ".4", True),
    ("MV", "math", "1000.99", "$1,000.99", True),
    ("MV", "math", "1000.99", "the number is not 10 which is 1,000.99€", True),
    ("MV", "math", "2", "AZYUK2A", False),
    # fractions, sets
    ("MV", "math", "10/9", "\\frac{10}{9}", True),
    ("MV", "math", "-10/9", "-\\frac{10}{9}", True),
    ("MV", "math", "$[0,1)$", "$[0,1)$", True),
    ("MV", "math", "$[0,9)$", "$[0,1)$", False),
    ("MV", "math", "$(0,9)$", "$[0,9)$", False),
    # LaTeX notations
    ("MV", "math", "$9$", "Answer \\[ 9 \\]", True),
    ("MV", "math", "$9$", "Answer $ 9 $", True),
    ("MV", "math", "$10$", "Answer \\( (9+1) \\)", True),
    ("MV", "math", "$1/3$", "$\\frac13 $", True),
    ("MV", "math", "$\\sqrt{3}$", "$\\sqrt3 $", True),
    ("MV", "math", "$1/3$", "$\\dfrac{1}{3} $", True),
    ("MV", "math", "$1/3$", "$\\left( \\frac{1}{3} \\right)$", True),
    ("MV", "math", "$1/3$", "$\\boxed{\\frac{1}{3}}$", True),
    ("MV", "math", "$1/3$", "$\\frac{1}{3} \\text{meters}$", True),
    ("MV", "math", "$1/3$", "$k = \\frac{1}{3}$", True),
    # percentages
    ("MV", "math", "$28\\%$", "28 percent", True),
    ("MV", "math", "$28\\%$", "$28$ %", True),
    ("MV", "math", "$0.28$", "28", False),
    ("MV", "math", "$28$", "28/100", False),
    # whole solutions
    ("MV", "math", "$2-2p$", "Since $x<2$, it follows that $|x-2|=2-x$. If $2-x=p$, then "
     "$x=2-p$. Thus $x-p=\\boxed{2-2p}$.", True),
    ("MV", "math", "$\\frac{14}{3}$", "$f(-2)+f(-1)+f(0)=\\frac{3(-2)-2}{-2-2}+\\frac{3(-1)-2}"
     "{-1-2}+\\frac{3(0)-2}{0-2}=\\frac{-8}{-4}+\\frac{-5}{-3}+\\frac{-2}{-2}=2+\\frac{5}{3}+1="
     "\\boxed{\\frac{14}{3}}$", True),
    ("MV", "math", "$\\text{Evelyn}$", "Evelyn went almost as far as Carla in less than half the "
     "time. Therefore, $\\boxed{\\text{Evelyn}}$ is our answer.", True),
    # multiple choice (lighteval's letter extraction)
    ("LE", "choice", "C", "thinking about it I think the correct answer is C", True),
    ("LE", "choice", "B", "Let's think step by step. It's not A because it doesn't make sense, "
     "therefore I think it's B", True),
    ("LE", "choice", "D", "The answer is for sure D, it can't be A or B", True),
    ("LE", "choice", "D", "The answer: D, it doesn't make sense for it to be A or B", True),
    ("LE", "choice", "D", "D. it can't be A or B", True),
    ("LE", "choice", "D", "D", True),
    ("LE", "choice", "A", "C", False),
    # simple-evals: "Answer: X"
    ("SE", "choice", "B", "The second option fits the data.\nAnswer: B", True),
    ("SE", "choice", "C", "Answer:C", True),
    ("SE", "choice", "A", "Answer: $A$", True),
    # Minerva's answer format
    ("MN", "math", "\\frac{1}{2}", "We halve it. Final Answer: The final answer is "
     "$\\frac{1}{2}$. I hope it is correct.", True),
    ("MN", "math", "3", "Final Answer: The final answer is $4$. I hope it is correct.", False),
    # open-r1's accuracy reward
    ("OR", "math", "$\\frac{63}{400}$", "\\boxed{\\frac{63}{400}}", True),
    ("OR", "math", "$\\frac{63}{400}$", "\\boxed{\\frac{64}{400}}", False),
    # gsm8k flexible extract
    ("GS", "integer", "18", "Janet sells 16 - 3 - 4 = 9 duck eggs a day. She makes 9 * 2 = $18 "
     "every day at the farmer's market.", True),
]

HELD_OUT = [
    ("MV", "math", "1000", "1 000", True),
    ("MV", "math", "1000.99", "1,000.99$", True),
    ("MV", "math", "1000.99", "so the number is 10 which is 1,000.99m²", True),
    ("MV", "math", "1000.99", "not it's not 10 it's 1,000.99m²", True),
    ("MV", "math", "$9$", "Answer $$ 9 $$", True),
    ("MV", "math", "$9$", "Answer \\( 9 \\)", True),
    ("MV", "math", "$1$", "$\\frac3{3} $", True),
    ("MV", "math", "$1/3$", "$\\cfrac{1}{3} $", True),
    ("MV", "math", "$1/3$", "$\\tfrac{1}{3} $", True),
    ("MV", "math", "$1/3$", "$ 1/3 $", True),
    ("MV", "math", "$1/3$", "$\\frac{1}{3} \\textbf{meters}$", True),
    ("MV", "math", "$10/9$", "Answer $ \\frac{1}{2} \\$ = \\frac{10}{9} $", True),
    ("MV", "math", "$28\\%$", "28 pct", True),
    ("MV", "math", "$28\\%$", "28 %", True),
    ("MV", "math", "$28\\%$", "$28$ percent", True),
    ("MV", "math", "$28\\%$", "$\\boxed{28}$ pct", True),
    ("MV", "math", "$28/100$", "28", False),
    ("MV", "math", "$\\frac{28}{100}$", "28", False),
    ("MV", "math", "$1$", "$-[0,1)$", False),
    ("LE", "math", "0", "So the os then when we 9/3 we get 8 so the answer is 0", True),
    ("LE", "math", "1", "so $x+y = 1000$ therefore answer is $1$", True),
    ("LE", "math", "1", "how many $? just about 1$", True),
    ("LE", "choice", "C", "Alina and the answer is\n(C) Cecile", True),
    ("LE", "choice", "C", "Alina and the answer is\nC Cecile", True),
    ("LE", "choice", "A", "A Peter\nCelina bum", True),
    ("SE", "choice", "D", "Answer : D", True),
    ("SE", "choice", "B", "Reasoning about each option in turn.\n\nAnswer: B", True),
    ("MN", "math", "28\\%", "The loss is 28 percent. Final Answer: The final answer is "
     "$28 \\%$. I hope it is correct.", True),
    ("OR", "math", "$\\frac{1}{2}$", "The probability is \\boxed{0.5}.", True),
    ("GS", "integer", "70", "The discount is 100 * 0.30 = 30. The final cost is 100 - 30 = 70",
     True),
    ("GS", "integer", "105", "The answer is (35 + 70 = 105).", True),
]
