"""What the town's people call and write to the call center about: Japanese subjects and comment threads.

Each topic is a category (the ticket field's option tag), a subject and a thread of turns between the member
and an agent. ``{name}`` is the requester's family name, ``{product}``, ``{order}``, ``{store}``, ``{date}``
and ``{points}`` are filled in per ticket. A phone ticket starts with the agent's call notes instead.
"""

from __future__ import annotations

from dataclasses import dataclass

PRODUCTS = (
    "今治タオル フェイスタオル", "南部鉄器 急須 0.6L", "有田焼 マグカップ", "手ぬぐい 注染 桜柄",
    "ハンドクリーム 柚子", "折りたたみ傘", "弁当箱 曲げわっぱ", "扇子 京都",
)  # fmt: skip
STORES = ("渋谷店", "梅田店", "名古屋栄店", "札幌大通店", "福岡天神店")
AGENTS: tuple[tuple[str, str], ...] = (
    ("佐々木 美咲", "misaki.sasaki"), ("高橋 健", "ken.takahashi"), ("中村 由美", "yumi.nakamura"),
)  # fmt: skip
"""The call center's agents (staff, not townspeople): display name and mailbox."""


@dataclass(frozen=True)
class Topic:
    """A kind of inquiry: its category, subject, the agent's call notes and the thread (``True``: the member)."""

    category: str
    subject: str
    call_notes: str
    turns: tuple[tuple[bool, str], ...]


TOPICS: tuple[Topic, ...] = (
    Topic(
        "returns", "返品について",
        "お電話にて受付。{product}の返品希望。注文番号{order}。返品条件を説明済み。",
        (
            (True, "先日購入した{product}を返品したいのですが、手続きを教えてください。"),
            (False, "{name}様、お問い合わせありがとうございます。商品到着後14日以内であれば返品を承ります。"
                    "ご注文番号をお知らせいただけますでしょうか。"),
            (True, "注文番号は{order}です。よろしくお願いします。"),
            (False, "確認いたしました。返送用の伝票をメールでお送りしましたので、ご確認ください。"),
        ),
    ),
    Topic(
        "shipping_delay", "配送遅延のお問い合わせ",
        "お電話にて受付。{date}注文の{product}が未着とのこと。配送状況を確認して折り返し予定。",
        (
            (True, "{date}に注文した{product}がまだ届きません。いつ頃届きますか？"),
            (False, "{name}様、ご不便をおかけして申し訳ございません。ただいま配送業者に確認しております。"),
            (False, "配送業者に確認したところ、明日の午前中にお届けの予定とのことです。"),
            (True, "わかりました。ありがとうございます。"),
        ),
    ),
    Topic(
        "points", "ポイントが付与されていない",
        "お電話にて受付。{date}に{store}で購入した分のポイント未付与の件。レシート確認済み。",
        (
            (True, "{date}に{store}で買い物をしたのですが、ポイントが付いていません。"),
            (False, "{name}様、ご連絡ありがとうございます。レシートのお日付と店舗名をお知らせください。"),
            (True, "{store}で{date}です。会員カードを出し忘れたかもしれません。"),
            (False, "確認のうえ、{points}ポイントを付与いたしました。ご迷惑をおかけしました。"),
        ),
    ),
    Topic(
        "rank", "会員ランクについて",
        "お電話にて受付。ゴールドランクの条件と特典について質問。説明済み。",
        (
            (True, "ゴールド会員になる条件を教えてください。"),
            (False, "{name}様、年間のお買い上げ金額が5万円以上でゴールドランクとなります。"
                    "ポイント還元率が2倍になる特典がございます。"),
            (True, "今年はあといくらでゴールドになりますか？"),
            (False, "現在のお買い上げ金額から、あと12,000円でゴールドランクに到達します。"),
        ),
    ),
    Topic(
        "defect", "商品の不具合",
        "お電話にて受付。{product}に不具合。交換を希望。写真をメールで送付いただく予定。",
        (
            (True, "届いた{product}に傷がありました。交換していただけますか。"),
            (False, "{name}様、大変申し訳ございません。お手数ですが、傷の写真をお送りいただけますでしょうか。"),
            (True, "写真を添付しました。"),
            (False, "確認いたしました。交換品を本日発送いたします。到着まで今しばらくお待ちください。"),
        ),
    ),
    Topic(
        "coupon", "クーポンが使えない",
        "お電話にて受付。誕生日クーポンがオンラインストアで使えないとのこと。有効期限を確認中。",
        (
            (True, "誕生日クーポンを使おうとしたら「無効なコード」と表示されました。"),
            (False, "{name}様、ご不便をおかけしております。クーポンの有効期限を確認いたします。"),
            (False, "システムの不具合でした。新しいクーポンコードを発行しましたのでご利用ください。"),
        ),
    ),
    Topic(
        "address_change", "登録住所の変更",
        "お電話にて受付。引っ越しのため登録住所の変更を希望。本人確認済み。",
        (
            (True, "引っ越したので登録住所を変更したいです。"),
            (False, "{name}様、ご連絡ありがとうございます。マイページの会員情報から変更いただけます。"),
            (True, "マイページから変更できました。ありがとうございました。"),
        ),
    ),
)  # fmt: skip
